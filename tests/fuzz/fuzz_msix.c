/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target msix: the interrupt side of the PCI test device, set up as firmware leaves it
 * (BAR0 decoding at MEM_PCI_MMIO32 behind root port "a", secondary bus 1).  The input drives
 * the MSI-X table and PBA through BAR0 at any size and alignment, the MSI-X and MSI
 * capabilities through ECAM, the device raising vectors, triggers on the vectors' eventfds
 * (as a passthrough device's host interrupt would), the event loop that collects them,
 * memory-decode toggles, Function Level Reset and secondary bus reset.
 *
 * Input: 12-byte records  op, sel, offset (u16), value (u64); see op() for their meaning.
 *
 * Checked after every step against a model of the table kept here: table reads return what
 * was written (address bits 1:0 and reserved control bits reading zero, the table reset to
 * masked zeros by a reset), PBA reads agree with each vector's pending state, a vector is
 * live exactly when it is enabled and unmasked, a live vector is not pending and has an
 * irqfd and an MSI route carrying its current message, and no other irqfd exists.
 */
#include <string.h>
#include <unistd.h>

#include "devices/pci/internal.h"
#include "tests/devices/testdev.h"
#include "tests/fuzz/fuzz.h"
#include "tests/unit/unit.h"

#define RAM_SIZE MiB(16)
#define BAR0     MEM_PCI_MMIO32
#define BAR2     0x1000
#define SEC_BUS  1
#define ECAM_DEV (MEM_ECAM_BASE + PCI_ECAM_OFFSET(SEC_BUS, 0, 0))
#define NR_VEC   TESTDEV_NR_VECTORS
#define TABLE_SZ (NR_VEC * PCI_MSIX_ENTRY_SIZE)
#define MAX_OPS  1024

struct rig {
	struct pc *pc;
	struct vm *vm;
	struct pci_port *port;
	struct pci_dev *dev;
	uint16_t msix_cap, msi_cap;
	bool decoding;            /* COMMAND.MEMORY as last written */
	uint8_t table[TABLE_SZ];  /* the MSI-X table as the guest must read it */
	unsigned irqfds_at_start; /* irqfds of the VM before any vector went live */
};

/* Firmware's part after every reset: BAR0 and BAR2 placed, decoding and bus mastering on. */
static void enable(struct rig *rig)
{
	struct pci_dev *d = rig->dev;

	FUZZ_MUST(pci_cfg_write(d, PCI_BASE_ADDRESS_0, 4, (uint32_t)BAR0));
	FUZZ_MUST(pci_cfg_write(d, PCI_BASE_ADDRESS_1, 4, 0));
	FUZZ_MUST(pci_cfg_write(d, PCI_BASE_ADDRESS_2, 4, BAR2 | PCI_BASE_ADDRESS_SPACE_IO));
	FUZZ_MUST(pci_cfg_write(d, PCI_COMMAND, 2,
	                        PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
	rig->decoding = true;
	memset(rig->table, 0, sizeof(rig->table));
	for (unsigned i = 0; i < NR_VEC; i++)
		rig->table[i * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL] =
		    PCI_MSIX_ENTRY_CTRL_MASKBIT;
}

static void setup(struct rig *rig)
{
	struct pci_dev *p;

	fake_hv_reset();
	FUZZ_MUST(fake_pc_create(1, RAM_SIZE, &rig->pc));
	rig->vm = rig->pc->vm;
	FUZZ_MUST(pci_root_port_create(rig->pc->pci, "a", &rig->port));
	FUZZ_MUST(pci_testdev_create(rig->pc->pci, rig->port, &rig->dev));
	p = pci_port_dev(rig->port);
	FUZZ_MUST(pci_cfg_write(p, PCI_PRIMARY_BUS, 4, SEC_BUS << 16 | SEC_BUS << 8));
	FUZZ_MUST(pci_cfg_write(p, PCI_IO_BASE, 2, (BAR2 >> 8) | (BAR2 >> 8) << 8));
	FUZZ_MUST(pci_cfg_write(p, PCI_MEMORY_BASE, 4, (uint32_t)(BAR0 >> 16) | (uint32_t)BAR0));
	FUZZ_MUST(pci_cfg_write(p, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	rig->msix_cap = pci_cap_find(rig->dev, PCI_CAP_ID_MSIX);
	rig->msi_cap = pci_cap_find(rig->dev, PCI_CAP_ID_MSI);
	if (!rig->msix_cap || !rig->msi_cap)
		fuzz_fail(__FILE__, __LINE__, "the test device lacks MSI or MSI-X");
	enable(rig);
	rig->irqfds_at_start = fake_hv_record()->irqfds;
}

/* A write to the model: whole entries re-read as the device keeps them. */
static void table_write(struct rig *rig, uint32_t off, const uint8_t *v, uint32_t len)
{
	for (uint32_t k = 0; k < len && off + k < TABLE_SZ; k++)
		rig->table[off + k] = v[k];
	for (unsigned i = 0; i < NR_VEC; i++) {
		uint8_t *e = rig->table + i * PCI_MSIX_ENTRY_SIZE;

		e[PCI_MSIX_ENTRY_LOWER_ADDR] &= 0xfc;
		e[PCI_MSIX_ENTRY_VECTOR_CTRL] &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
		memset(e + PCI_MSIX_ENTRY_VECTOR_CTRL + 1, 0, 3);
	}
}

static bool route_present(uint32_t gsi, uint64_t address, uint32_t data)
{
	const struct fake_record *rec = fake_hv_record();

	for (unsigned i = 0; i < rec->nr_routes; i++) {
		if (rec->routes[i].gsi == gsi)
			return rec->routes[i].address == address && rec->routes[i].data == data;
	}
	return false;
}

/* One vector's state against the rules; returns whether it is live. */
static bool check_vector(const struct pci_vec_state *st, bool pending)
{
	FUZZ_CHECK(st->live == (st->enabled && !st->masked));
	if (!st->live)
		return false;
	FUZZ_CHECK(!pending);
	FUZZ_CHECK(st->efd >= 0);
	FUZZ_CHECK(route_present(st->gsi, st->address, st->data));
	return true;
}

static void check(struct rig *rig)
{
	struct pci_vec_state st;
	unsigned live = 0;
	bool pending;

	for (unsigned i = 0; i < NR_VEC; i++) {
		const uint8_t *e = rig->table + i * PCI_MSIX_ENTRY_SIZE;
		uint64_t addr;
		uint32_t data;

		FUZZ_MUST(pci_vecs_state(rig->dev->msix, i, &st, &pending));
		memcpy(&addr, e + PCI_MSIX_ENTRY_LOWER_ADDR, 8);
		memcpy(&data, e + PCI_MSIX_ENTRY_DATA, 4);
		FUZZ_CHECK(st.address == addr && st.data == data);
		FUZZ_CHECK(st.masked || !(e[PCI_MSIX_ENTRY_VECTOR_CTRL] & 1));
		live += check_vector(&st, pending);
	}
	FUZZ_MUST(pci_vecs_state(rig->dev->msi, 0, &st, &pending));
	live += check_vector(&st, pending);
	/* The port's own MSI is never touched here: it stays as it was at set-up. */
	FUZZ_CHECK(fake_hv_record()->irqfds == rig->irqfds_at_start + live);
}

/* Guest access to BAR0; reads that start in the table or the PBA are checked. */
static void bar0_access(struct rig *rig, uint8_t sel, uint16_t off, uint64_t val)
{
	uint32_t len = 1 + (sel & 7), o;
	bool write = sel & 8;
	uint8_t buf[8];

	if (sel & 0x10)
		o = TESTDEV_MSIX_TABLE + (off % (TABLE_SZ + 8));
	else if (sel & 0x20)
		o = TESTDEV_MSIX_PBA + (off % 16);
	else
		o = off & (sel & 0x40 ? 0x7fff : 0x3fff); /* sometimes past the BAR's end */
	memcpy(buf, &val, 8);
	bus_access(&rig->vm->mmio, BAR0 + o, buf, len, write);
	if (!rig->decoding || o >= TESTDEV_BAR0_SIZE)
		return;
	if (o >= TESTDEV_MSIX_TABLE && o < TESTDEV_MSIX_TABLE + TABLE_SZ) {
		o -= TESTDEV_MSIX_TABLE;
		if (write) {
			table_write(rig, o, buf, len);
			return;
		}
		for (uint32_t k = 0; k < len; k++)
			FUZZ_CHECK(buf[k] == (o + k < TABLE_SZ ? rig->table[o + k] : 0));
	} else if (o >= TESTDEV_MSIX_PBA && o < TESTDEV_MSIX_PBA + 8 && !write) {
		struct pci_vec_state st;
		bool pending;

		o -= TESTDEV_MSIX_PBA;
		for (uint32_t k = 0; k < len; k++) {
			uint8_t want = 0;

			for (unsigned i = 0; o + k == 0 && i < NR_VEC; i++) {
				FUZZ_MUST(pci_vecs_state(rig->dev->msix, i, &st, &pending));
				want |= (uint8_t)(pending << i);
			}
			FUZZ_CHECK(buf[k] == want);
		}
	}
}

/* A config access by the guest, through ECAM, of 1, 2 or 4 bytes at an aligned offset. */
static void cfg_access(struct rig *rig, uint32_t off, uint8_t sel, uint32_t val)
{
	uint32_t len = 1u << ((sel & 3) % 3);

	off &= ~(len - 1);
	bus_access(&rig->vm->mmio, ECAM_DEV + off, &val, len, sel & 4);
}

static void op(struct rig *rig, struct fuzz_in *in)
{
	uint8_t kind = fuzz_u8(in), sel = fuzz_u8(in);
	uint16_t off = fuzz_u16(in);
	uint64_t val = fuzz_u64(in), one = 1;
	struct pci_dev *p = pci_port_dev(rig->port);
	int fd;

	switch (kind % 10) {
	case 0:
		bar0_access(rig, sel, off, val);
		break;
	case 1: /* the MSI-X capability: Message Control, table and PBA registers */
		cfg_access(rig, rig->msix_cap + off % PCI_CAP_MSIX_SIZEOF, sel, (uint32_t)val);
		break;
	case 2: /* the MSI capability: control, address, data, mask and pending bits */
		cfg_access(rig, rig->msi_cap + off % 24, sel, (uint32_t)val);
		break;
	case 3: /* any capability read (a write could FLR behind the model's back) */
		cfg_access(rig, PCI_STD_HEADER_SIZEOF + off % (PCI_CFG_SPACE_SIZE - 0x40), sel & 3,
		           (uint32_t)val);
		break;
	case 4: /* the device raises a vector, possibly one it does not have */
		if (sel & 1)
			pci_vecs_trigger(rig->dev->msix, off % 8);
		else
			pci_dev_trigger(rig->dev, off % 8);
		break;
	case 5: /* a trigger on a vector's eventfd, as a host interrupt through VFIO arrives */
		if (sel & 1 ? pci_vecs_fd(rig->dev->msi, 0, &fd)
		            : pci_vecs_fd(rig->dev->msix, off % NR_VEC, &fd))
			fuzz_fail(__FILE__, __LINE__, "no eventfd for a vector");
		if (write(fd, &one, sizeof(one)) != sizeof(one))
			fuzz_fail(__FILE__, __LINE__, "eventfd write");
		/* The checks after each step collect triggers too: let the loop go first. */
		if ((sel & 2) && loop_poll(&rig->vm->loop, 0))
			fuzz_fail(__FILE__, __LINE__, "loop_poll");
		break;
	case 6: /* the event loop collects triggers of vectors that are not live */
		if (loop_poll(&rig->vm->loop, 0))
			fuzz_fail(__FILE__, __LINE__, "loop_poll");
		break;
	case 7: /* memory decode and bus mastering on or off */
		FUZZ_MUST(pci_cfg_write(rig->dev, PCI_COMMAND, 2,
		                        PCI_COMMAND_IO |
		                            (val & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER))));
		rig->decoding = val & PCI_COMMAND_MEMORY;
		break;
	case 8: /* Function Level Reset */
		cfg_access(rig, rig->dev->pcie_cap + PCI_EXP_DEVCTL, 1 | 4,
		           PCI_EXP_DEVCTL_BCR_FLR | (uint16_t)val);
		enable(rig);
		break;
	case 9: /* secondary bus reset through the port */
		FUZZ_MUST(pci_cfg_write(p, PCI_BRIDGE_CONTROL, 2, PCI_BRIDGE_CTL_BUS_RESET));
		FUZZ_MUST(pci_cfg_write(p, PCI_BRIDGE_CONTROL, 2, 0));
		enable(rig);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct rig rig = { 0 };
	int fd = fuzz_lowest_free_fd();

	log_set_level(LOG_ERR);
	setup(&rig);
	check(&rig);
	for (unsigned i = 0; i < MAX_OPS && in.n; i++) {
		op(&rig, &in);
		check(&rig);
	}
	vm_destroy(rig.vm);
	FUZZ_CHECK(fake_hv_record()->irqfds == 0);
	FUZZ_CHECK(fuzz_lowest_free_fd() == fd);
	return 0;
}
