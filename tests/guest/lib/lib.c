/* SPDX-License-Identifier: MIT */
/* The freestanding guest library: guest->host calls, printing, serial, IDT, LAPIC, IOAPIC. */
#include <stdarg.h>

#include "guest.h"

#define LAPIC_BASE      0xfee00000ul
#define LAPIC_ID        0x20
#define LAPIC_EOI       0xb0
#define LAPIC_SVR       0xf0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_DCR 0x3e0
#define WAIT_VECTOR     0xef      /* the wait bound's timer; no test uses it */
#define WAIT_TICKS      10000000u /* 10 ms at KVM's 1 GHz APIC bus, divide by 1 */
#define IOAPIC_BASE     0xfec00000ul
#define COM1            0x3f8

const struct guest_start_info *guest_si;

/* One call block per vCPU: calls from different vCPUs never share memory. */
static struct gcall gcall_blocks[GUEST_MAX_CPUS];
static volatile uint32_t print_lock;

void *memset(void *d, int c, size_t n)
{
	uint8_t *p = d;

	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *p = d;
	const uint8_t *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

bool guest_str_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

uint32_t lapic_id(void)
{
	return MMIO32(LAPIC_BASE + LAPIC_ID) >> 24;
}

uint64_t gcall(uint64_t cmd, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct gcall *g = &gcall_blocks[lapic_id() % GUEST_MAX_CPUS];

	g->cmd = cmd;
	g->args[0] = a0;
	g->args[1] = a1;
	g->args[2] = a2;
	g->ret = 0;
	__asm__ volatile("" ::: "memory");
	outl(GCALL_PORT, (uint32_t)(uintptr_t)g);
	__asm__ volatile("" ::: "memory");
	return g->ret;
}

void guest_print(const char *s)
{
	gcall(GCALL_PRINT, (uintptr_t)s, strlen(s), 0);
}

static char *fmt_num(char *p, char *end, uint64_t v, unsigned base, bool neg)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg && p < end)
		*p++ = '-';
	while (n && p < end)
		*p++ = tmp[--n];
	return p;
}

void guest_printf(const char *fmt, ...)
{
	char buf[256], *p = buf, *end = buf + sizeof(buf) - 1;
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt && p < end; fmt++) {
		int longs = 0;

		if (*fmt != '%') {
			*p++ = *fmt;
			continue;
		}
		while (*++fmt == 'l')
			longs++;
		switch (*fmt) {
		case 'd': {
			int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);

			p = fmt_num(p, end, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0);
			break;
		}
		case 'u':
			p = fmt_num(p, end, longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10,
			            false);
			break;
		case 'x':
			p = fmt_num(p, end, longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16,
			            false);
			break;
		case 'p':
			*p++ = '0';
			if (p < end)
				*p++ = 'x';
			p = fmt_num(p, end, (uintptr_t)va_arg(ap, void *), 16, false);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);

			while (*s && p < end)
				*p++ = *s++;
			break;
		}
		case 'c':
			*p++ = (char)va_arg(ap, int);
			break;
		default:
			*p++ = '%';
			if (p < end && *fmt)
				*p++ = *fmt;
			break;
		}
		if (!*fmt)
			break;
	}
	va_end(ap);
	*p = 0;
	/* Serial output from several vCPUs would interleave byte by byte without this lock. */
	while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
	serial_puts(buf);
	__atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}

void guest_done(uint64_t status)
{
	gcall(GCALL_DONE, status, 0, 0);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void guest_assert_fail(const char *file, int line, const char *expr)
{
	gcall(GCALL_ASSERT, (uintptr_t)file, (uint64_t)line, (uintptr_t)expr);
	guest_done(1);
}

const char *guest_cmdline(void)
{
	return guest_si && guest_si->cmdline_paddr
	           ? (const char *)(uintptr_t)guest_si->cmdline_paddr
	           : "";
}

void serial_putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		cpu_relax();
	outb(COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			serial_putc('\r');
		serial_putc(*s);
	}
}

/* ---- interrupts ---- */

struct idt_entry {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
} __attribute__((packed));

static struct idt_entry idt[256] __attribute__((aligned(16)));
static irq_handler handlers[256];
extern char isr_stubs[];

void isr_dispatch(uint64_t vector);
void isr_dispatch(uint64_t vector)
{
	if (vector < 256 && handlers[vector]) {
		handlers[vector]((uint32_t)vector);
		return;
	}
	gcall(GCALL_REPORT, 0xe0000000u | (uint32_t)vector, 1, 0);
	guest_print("unexpected interrupt or exception\n");
	guest_done(2);
}

void idt_init(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uintptr_t)idt };

	for (unsigned v = 0; v < 256; v++) {
		uint64_t a = (uintptr_t)isr_stubs + 16 * v;

		idt[v] = (struct idt_entry){ .off0 = (uint16_t)a,
			                     .sel = 0x10,
			                     .type = 0x8e,
			                     .off1 = (uint16_t)(a >> 16),
			                     .off2 = (uint32_t)(a >> 32) };
	}
	__asm__ volatile("lidt %0" ::"m"(idtr));
}

void idt_set_handler(uint32_t vector, irq_handler h)
{
	handlers[vector & 0xff] = h;
}

void lapic_enable(void)
{
	MMIO32(LAPIC_BASE + LAPIC_SVR) = 0x1ff; /* enabled, spurious vector 0xff */
}

void lapic_eoi(void)
{
	MMIO32(LAPIC_BASE + LAPIC_EOI) = 0;
}

static volatile unsigned wait_timer_fired;

static void wait_timer(uint32_t vector)
{
	(void)vector;
	wait_timer_fired++;
	lapic_eoi();
}

void wait_for_irq(void)
{
	handlers[WAIT_VECTOR] = wait_timer;
	MMIO32(LAPIC_BASE + LAPIC_TIMER_DCR) = 0xb;         /* divide by 1 */
	MMIO32(LAPIC_BASE + LAPIC_LVT_TIMER) = WAIT_VECTOR; /* one-shot, unmasked */
	MMIO32(LAPIC_BASE + LAPIC_TIMER_ICR) = WAIT_TICKS;
	__asm__ volatile("sti; hlt; cli");
	MMIO32(LAPIC_BASE + LAPIC_TIMER_ICR) = 0; /* stopped; one already pending is handled */
}

unsigned wait_timeouts(void)
{
	return wait_timer_fired;
}

uint32_t ioapic_read(uint32_t reg)
{
	MMIO32(IOAPIC_BASE) = reg;
	return MMIO32(IOAPIC_BASE + 0x10);
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
	MMIO32(IOAPIC_BASE) = reg;
	MMIO32(IOAPIC_BASE + 0x10) = v;
}

void ioapic_write_rte(uint32_t pin, uint64_t rte)
{
	ioapic_write(0x10 + 2 * pin + 1, (uint32_t)(rte >> 32));
	ioapic_write(0x10 + 2 * pin, (uint32_t)rte);
}

uint64_t ioapic_read_rte(uint32_t pin)
{
	return ioapic_read(0x10 + 2 * pin) | ((uint64_t)ioapic_read(0x10 + 2 * pin + 1) << 32);
}

/* Called from start.S with RDI = start_info, RSI = vCPU index. */
void guest_entry(const struct guest_start_info *si, uint64_t cpu);
void guest_entry(const struct guest_start_info *si, uint64_t cpu)
{
	if (cpu == 0)
		guest_si = si;
	guest_main((uint32_t)cpu);
	if (cpu == 0)
		guest_done(0);
	for (;;)
		__asm__ volatile("cli; hlt");
}
