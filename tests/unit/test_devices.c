/* The 16550A UART and the IOAPIC, driven through the buses of a VM on the fake hypervisor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "devices/devices.h"
#include "tests/unit/unit.h"

#define COM(r) (COM1_PORT + (r))

static struct vm *vm;
static struct pc *pc;

static int setup(void **state)
{
	(void)state;
	fake_hv_reset();
	log_set_level(LOG_ERR);
	int r = fake_pc_create(1, MiB(4), &pc);

	if (!r)
		vm = pc->vm;
	return r;
}

static int teardown(void **state)
{
	(void)state;
	vm_destroy(vm);
	return 0;
}

static uint8_t inb(uint16_t port)
{
	uint8_t v = 0;

	bus_access(&vm->pio, port, &v, 1, false);
	return v;
}

static void outb(uint16_t port, uint8_t v)
{
	bus_access(&vm->pio, port, &v, 1, true);
}

static uint32_t ioapic_rd(uint32_t reg)
{
	uint32_t v = reg;

	bus_access(&vm->mmio, MEM_IOAPIC_BASE, &v, 4, true);
	bus_access(&vm->mmio, MEM_IOAPIC_BASE + 0x10, &v, 4, false);
	return v;
}

static void ioapic_wr(uint32_t reg, uint32_t val)
{
	bus_access(&vm->mmio, MEM_IOAPIC_BASE, &reg, 4, true);
	bus_access(&vm->mmio, MEM_IOAPIC_BASE + 0x10, &val, 4, true);
}

static void set_rte(unsigned pin, uint64_t rte)
{
	ioapic_wr(0x10 + 2 * pin + 1, (uint32_t)(rte >> 32));
	ioapic_wr(0x10 + 2 * pin, (uint32_t)rte);
}

static uint64_t delivered(void)
{
	struct ioapic_stats st;

	ioapic_stats(pc->ioapic, &st);
	return st.delivered;
}

static void test_serial_registers(void **state)
{
	(void)state;
	assert_int_equal(inb(COM(5)) & 0x60, 0x60); /* THR empty, transmitter empty */
	outb(COM(7), 0x42);
	assert_int_equal(inb(COM(7)), 0x42);
	/* DLAB switches offsets 0 and 1 to the divisor latch. */
	outb(COM(3), 0x80);
	outb(COM(0), 0x01);
	outb(COM(1), 0x02);
	assert_int_equal(inb(COM(0)), 0x01);
	assert_int_equal(inb(COM(1)), 0x02);
	outb(COM(3), 0x03);
	assert_int_equal(inb(COM(1)), 0x00);        /* IER untouched by the latch writes */
	assert_int_equal(inb(COM(2)) & 0x0f, 0x01); /* no interrupt pending */
	outb(COM(2), 0x01);                         /* FIFO on */
	assert_int_equal(inb(COM(2)) & 0xc0, 0xc0);
}

static void test_serial_loopback_msr(void **state)
{
	(void)state;
	outb(COM(4), 0x10 | 0x0a); /* loop, RTS, OUT2 */
	assert_int_equal(inb(COM(6)) & 0xf0, 0x90);
	outb(COM(4), 0x10 | 0x05); /* loop, DTR, OUT1 */
	assert_int_equal(inb(COM(6)) & 0xf0, 0x60);
	/* In loopback, transmitted bytes come back as received ones. */
	outb(COM(0), 'z');
	assert_int_equal(inb(COM(5)) & 1, 1);
	assert_int_equal(inb(COM(0)), 'z');
	assert_int_equal(inb(COM(5)) & 1, 0);
	outb(COM(4), 0);
}

static void test_serial_thre_interrupt(void **state)
{
	uint64_t before;

	(void)state;
	set_rte(COM1_IRQ, 0x30); /* edge, vector 0x30, unmasked */
	outb(COM(4), 0x08);      /* OUT2 gates the IRQ */
	before = delivered();
	outb(COM(1), 0x02); /* enabling THRI while the THR is empty raises it */
	assert_int_equal(inb(COM(2)) & 0x0f, 0x02);
	assert_int_equal(delivered(), before + 1);
	/* Reading IIR acknowledged it. */
	assert_int_equal(inb(COM(2)) & 0x0f, 0x01);
	/* A write to THR raises it again once the byte is sent. */
	outb(COM(0), 'a');
	assert_int_equal(inb(COM(2)) & 0x0f, 0x02);
	assert_int_equal(delivered(), before + 2);
	outb(COM(1), 0);
}

static void test_serial_receive_interrupt(void **state)
{
	uint8_t data[20];
	uint64_t before;

	(void)state;
	set_rte(COM1_IRQ, 0x30);
	outb(COM(4), 0x08);
	outb(COM(2), 0xc1); /* FIFO on, trigger at 14 */
	outb(COM(1), 0x01); /* receive interrupt */
	before = delivered();
	assert_int_equal(serial_receive(pc->serial, (const uint8_t *)"hi", 2), 2);
	/* Below the trigger level: a character-timeout interrupt. */
	assert_int_equal(inb(COM(2)) & 0x0f, 0x0c);
	assert_int_equal(delivered(), before + 1);
	assert_int_equal(inb(COM(0)), 'h');
	assert_int_equal(inb(COM(0)), 'i');
	assert_int_equal(inb(COM(2)) & 0x0f, 0x01);
	memset(data, 'x', sizeof(data));
	assert_int_equal(serial_receive(pc->serial, data, sizeof(data)), sizeof(data));
	assert_int_equal(inb(COM(2)) & 0x0f, 0x04); /* at the trigger level */
	outb(COM(2), 0x03);                         /* clear the receive FIFO */
	assert_int_equal(inb(COM(5)) & 1, 0);
	outb(COM(1), 0);
}

static void test_serial_wide_and_odd_access(void **state)
{
	uint64_t v = 0;

	(void)state;
	/* An 8-byte read at the base covers all registers; no crash, no out-of-range. */
	assert_true(bus_access(&vm->pio, COM(0), &v, 8, false));
	assert_true(bus_access(&vm->pio, COM(7), &v, 1, false));
	assert_false(bus_access(&vm->pio, COM(6), &v, 4, false)); /* straddles the end */
}

static void test_ioapic_identity(void **state)
{
	(void)state;
	assert_int_equal(ioapic_rd(1) & 0xff, 0x11);
	assert_int_equal((ioapic_rd(1) >> 16) & 0xff, IOAPIC_PINS - 1);
	/* Every pin starts masked. */
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		assert_true(ioapic_rd(0x10 + 2 * pin) & (1u << 16));
	assert_int_equal(ioapic_rd(0x99), 0xffffffffu);
}

static void test_ioapic_route_follows_rte(void **state)
{
	const struct fake_record *rec = fake_hv_record();
	bool found = false;

	(void)state;
	set_rte(7, (3ull << 56) | (1ull << 15) | 0x55); /* dest 3, level, vector 0x55 */
	for (unsigned i = 0; i < rec->nr_routes; i++) {
		if (rec->routes[i].gsi != 7)
			continue;
		found = true;
		assert_int_equal(rec->routes[i].address, MEM_LAPIC_BASE | (3u << 12));
		assert_int_equal(rec->routes[i].data & 0xff, 0x55);
		assert_true(rec->routes[i].data & (1u << 15));
	}
	assert_true(found);
}

static void test_ioapic_edge_and_mask(void **state)
{
	uint64_t before;

	(void)state;
	set_rte(3, 0x40);
	before = delivered();
	ioapic_set_irq(pc->ioapic, 3, true);
	ioapic_set_irq(pc->ioapic, 3, true); /* still high: no new edge */
	ioapic_set_irq(pc->ioapic, 3, false);
	assert_int_equal(delivered(), before + 1);
	set_rte(3, 0x40 | (1u << 16));
	ioapic_set_irq(pc->ioapic, 3, true);
	ioapic_set_irq(pc->ioapic, 3, false);
	assert_int_equal(delivered(), before + 1);
	ioapic_set_irq(pc->ioapic, 99, true); /* out of range: ignored */
}

static void test_ioapic_level_remote_irr(void **state)
{
	uint64_t before;

	(void)state;
	set_rte(9, (1u << 15) | 0x42);
	before = delivered();
	ioapic_set_irq(pc->ioapic, 9, true);
	assert_int_equal(delivered(), before + 1);
	assert_true(ioapic_rd(0x10 + 18) & (1u << 14)); /* Remote IRR */
	/* The guest cannot clear Remote IRR by writing the RTE. */
	ioapic_wr(0x10 + 18, (1u << 15) | 0x42);
	assert_true(ioapic_rd(0x10 + 18) & (1u << 14));
	ioapic_set_irq(pc->ioapic, 9, true); /* held: no redelivery before EOI */
	assert_int_equal(delivered(), before + 1);
	ioapic_eoi(pc->ioapic, 0x99); /* other vector: nothing */
	assert_true(ioapic_rd(0x10 + 18) & (1u << 14));
	ioapic_eoi(pc->ioapic, 0x42); /* line still high: delivered again */
	assert_int_equal(delivered(), before + 2);
	ioapic_set_irq(pc->ioapic, 9, false);
	ioapic_eoi(pc->ioapic, 0x42);
	assert_false(ioapic_rd(0x10 + 18) & (1u << 14));
	assert_int_equal(delivered(), before + 2);
	/* Masked while high: delivered when unmasked. */
	set_rte(9, (1u << 16) | (1u << 15) | 0x42);
	ioapic_set_irq(pc->ioapic, 9, true);
	assert_int_equal(delivered(), before + 2);
	set_rte(9, (1u << 15) | 0x42);
	assert_int_equal(delivered(), before + 3);
	ioapic_set_irq(pc->ioapic, 9, false);
	ioapic_eoi(pc->ioapic, 0x42);
}

static void test_ioapic_eoi_register(void **state)
{
	uint32_t v = 0x42;
	uint64_t before;

	(void)state;
	set_rte(10, (1u << 15) | 0x42);
	ioapic_set_irq(pc->ioapic, 10, true);
	before = delivered();
	ioapic_set_irq(pc->ioapic, 10, false);
	bus_access(&vm->mmio, MEM_IOAPIC_BASE + 0x40, &v, 4, true);
	assert_false(ioapic_rd(0x10 + 20) & (1u << 14));
	assert_int_equal(delivered(), before);
}

/* What a level source with an irqfd of its own heard from the IOAPIC. */
struct heard {
	unsigned ready, held;
};

static void source_fn(void *opaque, bool ready)
{
	struct heard *h = opaque;

	if (ready)
		h->ready++;
	else
		h->held++;
}

/*
 * Sources that signal a pin through irqfds of their own (assigned devices' INTx) bypass Remote
 * IRR: they hear of every EOI of the pin's vector while it is unmasked, of its unmask and of its
 * mask, and nothing else; each source of a shared pin hears.
 */
static void test_ioapic_level_sources(void **state)
{
	const uint64_t level = 1ull << 15, masked = 1ull << 16;
	struct heard a = { 0 }, b = { 0 }, other = { 0 };

	(void)state;
	assert_int_equal(ioapic_add_source(pc->ioapic, 17, source_fn, &a), 0);
	assert_int_equal(ioapic_add_source(pc->ioapic, 17, source_fn, &b), 0);
	assert_int_equal(ioapic_add_source(pc->ioapic, 18, source_fn, &other), 0);
	assert_int_equal(ioapic_add_source(pc->ioapic, IOAPIC_PINS, source_fn, &a), -EINVAL);
	/* Programming the vector while masked says nothing; the unmask says "ready". */
	set_rte(17, 0x51 | level | masked);
	assert_int_equal(a.ready + a.held, 0);
	set_rte(17, 0x51 | level);
	assert_int_equal(a.ready, 1);
	assert_int_equal(b.ready, 1);
	/* An EOI of its vector, though Remote IRR was never set: the source's line may go on. */
	ioapic_eoi(pc->ioapic, 0x51);
	assert_int_equal(a.ready, 2);
	assert_int_equal(b.ready, 2);
	ioapic_eoi(pc->ioapic, 0x52);
	assert_int_equal(a.ready, 2);
	assert_int_equal(other.ready + other.held, 0);
	/* Masked: held, and EOIs wait for the unmask. */
	set_rte(17, 0x51 | level | masked);
	assert_int_equal(a.held, 1);
	ioapic_eoi(pc->ioapic, 0x51);
	assert_int_equal(a.ready, 2);
	set_rte(17, 0x51 | level);
	assert_int_equal(a.ready, 3);
	/* An edge-programmed pin has no EOI to wait for: its EOIs are not the source's. */
	set_rte(17, 0x51);
	ioapic_eoi(pc->ioapic, 0x51);
	assert_int_equal(a.ready, 3);
	/* A source removed hears nothing more. */
	set_rte(17, 0x51 | level);
	assert_int_equal(b.ready, 3);
	ioapic_del_source(pc->ioapic, 17, source_fn, &b);
	ioapic_eoi(pc->ioapic, 0x51);
	assert_int_equal(a.ready, 4);
	assert_int_equal(b.ready, 3);
	/* The IOAPIC's own level delivery on the pin is as before. */
	ioapic_set_irq(pc->ioapic, 17, true);
	assert_int_equal(delivered(), 1);
	assert_true(ioapic_rd(0x10 + 2 * 17) & (1u << 14));
}

/* The IOAPIC takes a bounded number of sources and says so past it. */
static void test_ioapic_sources_bounded(void **state)
{
	struct heard h = { 0 };

	(void)state;
	for (unsigned i = 0; i < IOAPIC_MAX_SOURCES; i++)
		assert_int_equal(ioapic_add_source(pc->ioapic, 16 + i % 8, source_fn, &h), 0);
	assert_int_equal(ioapic_add_source(pc->ioapic, 16, source_fn, &h), -ENOSPC);
}

static uint32_t ged_read(void)
{
	uint32_t v = 0;

	bus_access(&vm->pio, GED_PORT, &v, 4, false);
	return v;
}

/* The power button: its event waits in the register, the level line holds until it is read. */
static void test_ged_power_button(void **state)
{
	uint64_t before;
	uint8_t b = 0xff;

	(void)state;
	set_rte(GED_IRQ, (1u << 15) | 0x51); /* level, active high, as the DSDT's _CRS says */
	before = delivered();
	assert_int_equal(ged_read(), 0);
	ged_event(pc->ged, GED_EV_POWER_BUTTON);
	assert_int_equal(delivered(), before + 1);
	/* A byte read peeks without taking the events: only a full read does. */
	bus_access(&vm->pio, GED_PORT, &b, 1, false);
	assert_int_equal(b, GED_EV_POWER_BUTTON);
	ioapic_eoi(pc->ioapic, 0x51); /* still pending: the line is still high */
	assert_int_equal(delivered(), before + 2);
	assert_int_equal(ged_read(), GED_EV_POWER_BUTTON);
	assert_int_equal(ged_read(), 0);
	ioapic_eoi(pc->ioapic, 0x51); /* line low now: nothing more */
	assert_int_equal(delivered(), before + 2);
	/* Presses while the guest is busy add up to one event; writes change nothing. */
	ged_event(pc->ged, GED_EV_POWER_BUTTON);
	ged_event(pc->ged, GED_EV_POWER_BUTTON);
	b = 0xff;
	bus_access(&vm->pio, GED_PORT, &b, 1, true);
	assert_int_equal(ged_read(), GED_EV_POWER_BUTTON);
	ioapic_eoi(pc->ioapic, 0x51);
	assert_int_equal(ged_read(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_serial_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serial_loopback_msr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serial_thre_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serial_receive_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serial_wide_and_odd_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_route_follows_rte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_edge_and_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_level_remote_irr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_eoi_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_level_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_sources_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ged_power_button, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
