/*
 * The MSI-X and MSI emulators on the fake hypervisor: enable, function and vector masks,
 * pending bits, delivery through irqfds, triggers arriving while masked, the state-changed
 * callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "devices/pci/internal.h"
#include "tests/devices/testdev.h"
#include "tests/unit/unit.h"

#define BAR0   0xc0000000ull
#define TABLE  (BAR0 + TESTDEV_MSIX_TABLE)
#define PBA    (BAR0 + TESTDEV_MSIX_PBA)
#define LAPIC0 0xfee00000u

static struct vm *vm;
static struct pci_root *root;
static struct pc *pc;
static struct pci_dev *dev;
static uint16_t msix_cap;
static unsigned base_irqfds; /* the IOAPIC's */

static struct pci_vec_state events[256];
static unsigned nr_events;

static void changed(void *opaque, const struct pci_vec_state *v)
{
	(void)opaque;
	if (nr_events < ARRAY_SIZE(events))
		events[nr_events++] = *v;
}

static const struct pci_vec_state *last_event(unsigned vector)
{
	for (unsigned i = nr_events; i-- > 0;) {
		if (events[i].index == vector)
			return &events[i];
	}
	return NULL;
}

static void wcfg(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t v)
{
	assert_int_equal(pci_cfg_write(d, off, len, v), 0);
}

static uint32_t cfg(struct pci_dev *d, uint32_t off, uint32_t len)
{
	uint32_t v;

	assert_int_equal(pci_cfg_read(d, off, len, &v), 0);
	return v;
}

/* Open the port's window over BAR0 and turn the test device's decoding on. */
static void open_port(struct pci_dev *d)
{
	struct pci_dev *p = pci_port_dev(d->port);

	wcfg(p, PCI_SECONDARY_BUS, 1, 1);
	wcfg(p, PCI_SUBORDINATE_BUS, 1, 1);
	wcfg(p, PCI_MEMORY_BASE, 2, (uint32_t)(BAR0 >> 16));
	wcfg(p, PCI_MEMORY_LIMIT, 2, (uint32_t)(BAR0 >> 16));
	wcfg(p, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
}

static int setup(void **state)
{
	(void)state;
	fake_hv_reset();
	log_set_level(LOG_ERR);
	nr_events = 0;
	if (fake_pc_create(1, MiB(64), &pc))
		return -1;
	vm = pc->vm;
	root = pc->pci;
	if (pci_testdev_create(root, NULL, &dev))
		return -1;
	open_port(dev);
	wcfg(dev, PCI_BASE_ADDRESS_0, 4, (uint32_t)BAR0);
	wcfg(dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	msix_cap = pci_cap_find(dev, PCI_CAP_ID_MSIX);
	base_irqfds = fake_hv_record()->irqfds;
	pci_vecs_on_change(dev->msix, changed, NULL);
	return msix_cap ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	vm_destroy(vm);
	return 0;
}

static void mmio_wr(uint64_t addr, uint64_t v, uint32_t len)
{
	bus_access(&vm->mmio, addr, &v, len, true);
}

static uint64_t mmio_rd(uint64_t addr, uint32_t len)
{
	uint64_t v = 0;

	bus_access(&vm->mmio, addr, &v, len, false);
	return v;
}

static void entry(unsigned vec, uint32_t addr, uint32_t data, bool masked)
{
	mmio_wr(TABLE + 16 * vec, addr, 4);
	mmio_wr(TABLE + 16 * vec + 4, 0, 4);
	mmio_wr(TABLE + 16 * vec + 8, data, 4);
	mmio_wr(TABLE + 16 * vec + 12, masked, 4);
}

static void msix_ctl(uint16_t v)
{
	wcfg(dev, msix_cap + PCI_MSIX_FLAGS, 2, v);
}

static unsigned irqfds(void)
{
	return fake_hv_record()->irqfds - base_irqfds;
}

/* How many times the vector's eventfd was written since the last call (consumes it). */
static uint64_t fired(int efd)
{
	uint64_t n = 0;

	if (read(efd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static bool route_has(uint32_t gsi, uint64_t addr, uint32_t data)
{
	const struct fake_record *r = fake_hv_record();

	for (unsigned i = 0; i < r->nr_routes; i++) {
		if (r->routes[i].gsi == gsi)
			return r->routes[i].address == addr && r->routes[i].data == data;
	}
	return false;
}

static void test_msix_enable_mask_pending(void **state)
{
	const struct pci_vec_state *e;
	struct pci_vec_state st;
	bool pending;
	int efd;

	(void)state;
	assert_int_equal(cfg(dev, msix_cap + PCI_MSIX_FLAGS, 2), TESTDEV_NR_VECTORS - 1);
	assert_int_equal(cfg(dev, msix_cap + PCI_MSIX_TABLE, 4), TESTDEV_MSIX_TABLE | 0);
	assert_int_equal(mmio_rd(TABLE + 12, 4), PCI_MSIX_ENTRY_CTRL_MASKBIT);
	/* Linux's order: enable with the function masked, program, unmask, drop the mask. */
	msix_ctl(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	assert_true(pci_vecs_enabled(dev->msix));
	e = last_event(3);
	assert_true(e && e->enabled && e->masked && !e->live);
	entry(0, LAPIC0, 0x41, false);
	assert_int_equal(irqfds(), 0);
	e = last_event(0);
	assert_true(e && e->address == LAPIC0 && e->data == 0x41 && e->masked && !e->live);
	msix_ctl(PCI_MSIX_FLAGS_ENABLE);
	e = last_event(0);
	assert_true(e && e->live && !e->masked && e->efd >= 0);
	efd = e->efd;
	assert_int_equal(irqfds(), 1);
	assert_true(route_has(e->gsi, LAPIC0, 0x41));
	/* Vectors still masked in the table stay idle, with no resources. */
	assert_int_equal(pci_vecs_state(dev->msix, 1, &st, &pending), 0);
	assert_true(!st.live && st.efd == -1);
	/* Live: a trigger writes the irqfd. */
	pci_vecs_trigger(dev->msix, 0);
	assert_int_equal(fired(efd), 1);
	/* Vector mask: held pending, PBA bit set, delivered once on unmask. */
	mmio_wr(TABLE + 12, 1, 4);
	assert_int_equal(irqfds(), 0);
	assert_false(last_event(0)->live);
	pci_vecs_trigger(dev->msix, 0);
	pci_vecs_trigger(dev->msix, 0);
	assert_int_equal(fired(efd), 0);
	assert_int_equal(mmio_rd(PBA, 8), 1);
	mmio_wr(TABLE + 12, 0, 4);
	assert_int_equal(mmio_rd(PBA, 8), 0);
	assert_int_equal(fired(efd), 1);
	assert_int_equal(irqfds(), 1);
	/* Function mask: the same for every vector. */
	msix_ctl(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	pci_vecs_trigger(dev->msix, 0);
	assert_int_equal(mmio_rd(PBA, 1), 1);
	assert_int_equal(fired(efd), 0);
	msix_ctl(PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(fired(efd), 1);
	assert_int_equal(mmio_rd(PBA, 8), 0);
	/* A table write while live moves the route at once, and the owner hears of it. */
	mmio_wr(TABLE + 8, 0x42, 4);
	e = last_event(0);
	assert_true(e->live && e->data == 0x42);
	assert_true(route_has(e->gsi, LAPIC0, 0x42));
	/* Disabled: notifications are dropped, not held. */
	msix_ctl(0);
	assert_false(last_event(0)->enabled);
	assert_int_equal(irqfds(), 0);
	pci_vecs_trigger(dev->msix, 0);
	assert_int_equal(mmio_rd(PBA, 8), 0);
	assert_int_equal(fired(efd), 0);
	/* Out-of-range vectors are ignored. */
	pci_vecs_trigger(dev->msix, TESTDEV_NR_VECTORS);
	assert_int_equal(pci_vecs_state(dev->msix, 99, &st, &pending), -EINVAL);
}

/* A passthrough device writes the eventfd itself, masked or not. */
static void test_msix_external_trigger(void **state)
{
	uint64_t one = 1;
	int fd;

	(void)state;
	msix_ctl(PCI_MSIX_FLAGS_ENABLE);
	entry(1, LAPIC0, 0x51, true);
	assert_int_equal(pci_vecs_fd(dev->msix, 1, &fd), 0);
	assert_true(fd >= 0);
	assert_int_equal(last_event(1)->efd, fd);
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(loop_poll(&vm->loop, 0), 0);
	assert_int_equal(mmio_rd(PBA, 8), 2);
	/* Unmasked: the trigger goes out once through the irqfd. */
	mmio_wr(TABLE + 16 + 12, 0, 4);
	assert_int_equal(mmio_rd(PBA, 8), 0);
	assert_int_equal(fired(fd), 1);
	/* Masked again and triggered, read before the loop ran: the PBA still shows it. */
	mmio_wr(TABLE + 16 + 12, 1, 4);
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(mmio_rd(PBA, 8), 2);
	assert_int_equal(loop_poll(&vm->loop, 0), 0);
	mmio_wr(TABLE + 16 + 12, 0, 4);
	assert_int_equal(fired(fd), 1);
	assert_int_equal(mmio_rd(PBA, 8), 0);
}

static void test_msix_table_accesses(void **state)
{
	(void)state;
	/* 8-byte write of the address, byte reads back; reserved address bits read zero. */
	mmio_wr(TABLE + 32, 0x00000001fee01003ull, 8);
	assert_int_equal(mmio_rd(TABLE + 32, 8), 0x00000001fee01000ull);
	assert_int_equal(mmio_rd(TABLE + 33, 1), 0x10);
	assert_int_equal(mmio_rd(TABLE + 36, 2), 1);
	/* Only the mask bit of vector control is writable. */
	mmio_wr(TABLE + 44, 0xffffffff, 4);
	assert_int_equal(mmio_rd(TABLE + 44, 4), 1);
	mmio_wr(TABLE + 44, 0xfffffffe, 4);
	assert_int_equal(mmio_rd(TABLE + 44, 4), 0);
	/* An access straddling the table's end: the part inside counts, the rest is zero. */
	mmio_wr(TABLE + 16 * TESTDEV_NR_VECTORS - 4, ~0ull, 8);
	assert_int_equal(mmio_rd(TABLE + 16 * TESTDEV_NR_VECTORS - 4, 8), 1);
	/* Past the table and onto the PBA: no effect, no crash. */
	mmio_wr(TABLE + 16 * TESTDEV_NR_VECTORS, ~0ull, 8);
	mmio_wr(PBA, ~0ull, 8);
	assert_int_equal(mmio_rd(PBA, 8), 0);
	assert_int_equal(mmio_rd(PBA + 8, 8), 0);
}

static void test_msix_reset(void **state)
{
	uint16_t pcie = pci_cap_find(dev, PCI_CAP_ID_EXP);

	(void)state;
	msix_ctl(PCI_MSIX_FLAGS_ENABLE);
	entry(0, LAPIC0, 0x41, false);
	entry(2, LAPIC0, 0x43, false);
	assert_int_equal(irqfds(), 2);
	wcfg(dev, pcie + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_BCR_FLR);
	assert_int_equal(irqfds(), 0);
	assert_false(pci_vecs_enabled(dev->msix));
	assert_int_equal(cfg(dev, msix_cap + PCI_MSIX_FLAGS, 2), TESTDEV_NR_VECTORS - 1);
	assert_false(last_event(2)->enabled);
	/* BAR0 is unassigned after the reset; re-enable and look at the table. */
	wcfg(dev, PCI_BASE_ADDRESS_0, 4, (uint32_t)BAR0);
	wcfg(dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(mmio_rd(TABLE + 12, 4), 1);
	assert_int_equal(mmio_rd(TABLE + 8, 4), 0);
}

/* A function with an 8-vector, 64-bit, maskable MSI. */
static struct pci_dev *msi_dev(unsigned nr, unsigned flags, struct pci_vecs **m, uint16_t *cap)
{
	struct pci_dev_info info = { .name = "msi", .vendor = 0x1234, .device = 1 };
	struct pci_dev *d;

	assert_int_equal(pci_dev_create(root, &info, &d), 0);
	assert_int_equal(pci_msi_init(d, 0, nr, flags, m), 0);
	assert_int_equal(pci_attach(root, NULL, d), 0);
	pci_vecs_on_change(*m, changed, NULL);
	*cap = pci_cap_find(d, PCI_CAP_ID_MSI);
	return d;
}

static void test_msi_multi_message(void **state)
{
	struct pci_vec_state st;
	struct pci_vecs *m;
	uint16_t c;
	struct pci_dev *d = msi_dev(8, PCI_MSI_64BIT | PCI_MSI_MASKABLE, &m, &c);
	bool pending;
	int efd;

	(void)state;
	assert_int_equal(cfg(d, c + PCI_MSI_FLAGS, 2),
	                 3 << 1 | PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	wcfg(d, c + PCI_MSI_ADDRESS_LO, 4, LAPIC0);
	wcfg(d, c + PCI_MSI_ADDRESS_HI, 4, 0);
	wcfg(d, c + PCI_MSI_DATA_64, 2, 0x50);
	wcfg(d, c + PCI_MSI_MASK_64, 4, 0x2);
	wcfg(d, c + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | 2 << 4); /* 4 of 8 vectors */
	assert_true(pci_vecs_enabled(m));
	assert_int_equal(irqfds(), 3);
	for (unsigned i = 0; i < 8; i++) {
		const struct pci_vec_state *e = last_event(i);

		assert_non_null(e);
		assert_int_equal(e->live, i < 4 && i != 1);
		assert_int_equal(e->data, 0x50 + (i & 3));
	}
	assert_true(route_has(last_event(3)->gsi, LAPIC0, 0x53));
	/* Vector 1 is masked: pending in config space, then delivered on unmask. */
	pci_vecs_trigger(m, 1);
	assert_int_equal(cfg(d, c + PCI_MSI_PENDING_64, 4), 0x2);
	assert_int_equal(cfg(d, c + PCI_MSI_PENDING_64, 1), 0x2);
	wcfg(d, c + PCI_MSI_PENDING_64, 4, 0); /* read-only */
	assert_int_equal(cfg(d, c + PCI_MSI_PENDING_64, 4), 0x2);
	wcfg(d, c + PCI_MSI_MASK_64, 4, 0);
	efd = last_event(1)->efd;
	assert_true(efd >= 0);
	assert_int_equal(fired(efd), 1);
	assert_int_equal(cfg(d, c + PCI_MSI_PENDING_64, 4), 0);
	/* The mask register has one bit per vector. */
	wcfg(d, c + PCI_MSI_MASK_64, 4, 0xffffffff);
	assert_int_equal(cfg(d, c + PCI_MSI_MASK_64, 4), 0xff);
	wcfg(d, c + PCI_MSI_MASK_64, 4, 0);
	/* More messages than the function asked for: clamped to 8; data low bits replaced. */
	wcfg(d, c + PCI_MSI_DATA_64, 2, 0x57);
	wcfg(d, c + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | 7 << 4);
	assert_int_equal(irqfds(), 8);
	assert_int_equal(pci_vecs_state(m, 5, &st, &pending), 0);
	assert_true(st.live && st.data == 0x55);
	pci_vecs_trigger(m, 5);
	assert_int_equal(fired(st.efd), 1);
	/* Multiple Message Capable is read-only. */
	assert_int_equal(cfg(d, c + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_QMASK, 3 << 1);
	wcfg(d, c + PCI_MSI_FLAGS, 2, 0);
	assert_int_equal(irqfds(), 0);
	pci_vecs_trigger(m, 0);
	assert_int_equal(cfg(d, c + PCI_MSI_PENDING_64, 4), 0);
}

static void test_msi_32bit_plain(void **state)
{
	struct pci_vecs *m;
	uint16_t c;
	struct pci_dev *d = msi_dev(1, 0, &m, &c);
	struct pci_vecs *bad;

	(void)state;
	assert_int_equal(cfg(d, c + PCI_MSI_FLAGS, 2), 0);
	wcfg(d, c + PCI_MSI_ADDRESS_LO, 4, LAPIC0 | 3);
	assert_int_equal(cfg(d, c + PCI_MSI_ADDRESS_LO, 4), LAPIC0);
	wcfg(d, c + PCI_MSI_DATA_32, 4, 0xffff0061);
	assert_int_equal(cfg(d, c + PCI_MSI_DATA_32, 4), 0x61);
	wcfg(d, c + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	assert_true(last_event(0)->live);
	assert_true(route_has(last_event(0)->gsi, LAPIC0, 0x61));
	pci_dev_trigger(d, 0);
	assert_int_equal(fired(last_event(0)->efd), 1);
	assert_int_equal(pci_msi_init(d, 0, 1, 0, &bad), -EINVAL); /* one MSI per function */
	assert_int_equal(pci_dev_create(root, &(struct pci_dev_info){ .name = "x" }, &d), 0);
	assert_int_equal(pci_msi_init(d, 0, 3, 0, &bad), -EINVAL);
	assert_int_equal(pci_msi_init(d, 0, 64, 0, &bad), -EINVAL);
	assert_int_equal(pci_msi_init(d, 0, 1, 0x80, &bad), -EINVAL);
}

/* The test device prefers MSI-X, then MSI. */
static void test_dev_trigger_choice(void **state)
{
	uint16_t c = pci_cap_find(dev, PCI_CAP_ID_MSI);
	struct pci_vec_state st;
	bool pending;

	(void)state;
	wcfg(dev, c + PCI_MSI_ADDRESS_LO, 4, LAPIC0);
	wcfg(dev, c + PCI_MSI_DATA_64, 2, 0x61);
	wcfg(dev, c + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	mmio_wr(BAR0 + TESTDEV_REG_DOORBELL, 0, 4);
	assert_int_equal(pci_vecs_state(dev->msi, 0, &st, &pending), 0);
	assert_int_equal(fired(st.efd), 1);
	msix_ctl(PCI_MSIX_FLAGS_ENABLE);
	mmio_wr(BAR0 + TESTDEV_REG_DOORBELL, 0, 4);
	assert_int_equal(fired(st.efd), 0);
	assert_int_equal(mmio_rd(PBA, 8), 1); /* MSI-X vector 0 is masked: pending */
}

/* The DMA engine copies through the guest RAM map and refuses what it must. */
static void test_dma_engine(void **state)
{
	uint8_t *ram = vm->mem.ram[0].hva;

	(void)state;
	for (unsigned i = 0; i < 256; i++)
		ram[0x10000 + i] = (uint8_t)i;
	mmio_wr(BAR0 + TESTDEV_REG_DMA_SRC, 0x10000, 8);
	mmio_wr(BAR0 + TESTDEV_REG_DMA_DST, 0x20000, 8);
	mmio_wr(BAR0 + TESTDEV_REG_DMA_LEN, 256, 8);
	mmio_wr(BAR0 + TESTDEV_REG_DMA_CMD, TESTDEV_DMA_START, 4);
	assert_int_equal(mmio_rd(BAR0 + TESTDEV_REG_DMA_STS, 8), TESTDEV_DMA_DONE);
	assert_memory_equal(ram + 0x10000, ram + 0x20000, 256);
	/* Past RAM, or too long. */
	mmio_wr(BAR0 + TESTDEV_REG_DMA_DST, MiB(64) - 16, 8);
	mmio_wr(BAR0 + TESTDEV_REG_DMA_CMD, TESTDEV_DMA_START, 4);
	assert_int_equal(mmio_rd(BAR0 + TESTDEV_REG_DMA_STS, 8), TESTDEV_DMA_FAULT);
	mmio_wr(BAR0 + TESTDEV_REG_DMA_DST, 0x20000, 8);
	mmio_wr(BAR0 + TESTDEV_REG_DMA_LEN, TESTDEV_DMA_MAX + 1, 8);
	mmio_wr(BAR0 + TESTDEV_REG_DMA_CMD, TESTDEV_DMA_START, 4);
	assert_int_equal(mmio_rd(BAR0 + TESTDEV_REG_DMA_STS, 8), TESTDEV_DMA_FAULT);
	/* Bus mastering off. */
	mmio_wr(BAR0 + TESTDEV_REG_DMA_LEN, 16, 8);
	wcfg(dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	mmio_wr(BAR0 + TESTDEV_REG_DMA_CMD, TESTDEV_DMA_START, 4);
	assert_int_equal(mmio_rd(BAR0 + TESTDEV_REG_DMA_STS, 8), TESTDEV_DMA_NO_BM);
	/* Registers at odd sizes. */
	mmio_wr(BAR0 + TESTDEV_REG_SCRATCH + 3, 0xab, 1);
	assert_int_equal(mmio_rd(BAR0 + TESTDEV_REG_SCRATCH, 8), 0xab000000ull);
	assert_int_equal(mmio_rd(BAR0 + TESTDEV_REG_ID + 1, 2), (TESTDEV_ID_VALUE >> 8) & 0xffff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_msix_enable_mask_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_external_trigger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_table_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msi_multi_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msi_32bit_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dev_trigger_choice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_engine, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
