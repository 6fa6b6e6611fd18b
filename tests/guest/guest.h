/* SPDX-License-Identifier: MIT */
/*
 * The guest-program test rig.  Guest side (freestanding, -DGUEST implied by __STDC_HOSTED__ == 0):
 * start-up code, guest->host calls, serial, interrupts.  Host side: the harness that runs a
 * guest through pc_create()/boot_load()/vm_run() and checks what it reported.
 *
 * Guest->host calls: the guest writes the 32-bit guest-physical address of a struct gcall
 * with `out` to GCALL_PORT; the host reads it through mem_ptr() and answers in `ret`.
 */
#ifndef HVMM_TESTS_GUEST_H
#define HVMM_TESTS_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GCALL_PORT     0x0fe0
#define GUEST_MAX_CPUS 8

enum gcall_cmd {
	GCALL_PRINT = 1, /* args: gpa of text, length */
	GCALL_SYNC,      /* args: stage; the host test's on_sync hook runs, may answer in ret */
	GCALL_DONE,      /* args: status (0 = success) */
	GCALL_ASSERT,    /* args: gpa of file, line, gpa of expression text */
	GCALL_REPORT,    /* args: key, value: a number for the host test to check */
};

struct gcall {
	uint64_t cmd;
	uint64_t args[5];
	uint64_t ret;
};

#if !__STDC_HOSTED__
/* ---------------- guest side ---------------- */

struct hvm_start_info; /* from platform/platform.h, layout only */

/* Each test guest defines this; it runs on every vCPU.  Returning from CPU 0 ends the test. */
void guest_main(uint32_t cpu);

extern const struct guest_start_info *guest_si;
uint64_t gcall(uint64_t cmd, uint64_t a0, uint64_t a1, uint64_t a2);
void guest_print(const char *s);
void guest_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void guest_done(uint64_t status) __attribute__((noreturn));
void guest_assert_fail(const char *file, int line, const char *expr) __attribute__((noreturn));
#define GUEST_ASSERT(e)                                                                            \
	do {                                                                                       \
		if (!(e))                                                                          \
			guest_assert_fail(__FILE__, __LINE__, #e);                                 \
	} while (0)
#define guest_sync(stage)      gcall(GCALL_SYNC, (stage), 0, 0)
#define guest_report(key, val) gcall(GCALL_REPORT, (key), (val), 0)

/* The PVH start_info hvmm passes (subset of platform.h's struct hvm_start_info). */
struct guest_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};
struct guest_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};
const char *guest_cmdline(void);
bool guest_str_eq(const char *a, const char *b);

/* Port and memory access. */
static inline void outb(uint16_t p, uint8_t v)
{
	__asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(p));
}
static inline void outw(uint16_t p, uint16_t v)
{
	__asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(p));
}
static inline void outl(uint16_t p, uint32_t v)
{
	__asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(p));
}
static inline uint8_t inb(uint16_t p)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p));
	return v;
}
static inline uint16_t inw(uint16_t p)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p));
	return v;
}
static inline uint32_t inl(uint16_t p)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p));
	return v;
}
#define MMIO8(a)  (*(volatile uint8_t *)(uintptr_t)(a))
#define MMIO16(a) (*(volatile uint16_t *)(uintptr_t)(a))
#define MMIO32(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define MMIO64(a) (*(volatile uint64_t *)(uintptr_t)(a))
static inline void cpu_relax(void)
{
	__asm__ volatile("pause");
}
static inline void irq_enable(void)
{
	__asm__ volatile("sti");
}
static inline void irq_disable(void)
{
	__asm__ volatile("cli");
}
/*
 * Wait in hlt for an interrupt, with interrupts enabled only for the wait (sti; hlt; cli:
 * an interrupt pending at sti wakes the hlt).  A one-shot LAPIC timer bounds the wait at
 * about 10 ms (at KVM's 1 GHz APIC bus), so callers wait in a counted loop: an awaited
 * interrupt that never comes still fails the test, by count, not by hanging.  The bound
 * is there because L1's emulated SVM in the nested rig has been seen to deliver an
 * interrupt inside the sti shadow, before the hlt, which then sleeps for good.
 */
void wait_for_irq(void);
/* How many waits the timer ended rather than another interrupt. */
unsigned wait_timeouts(void);

/* Serial COM1 (polled). */
void serial_putc(char c);
void serial_puts(const char *s);

/* Interrupts: an IDT with a stub per vector; handlers run with the vector number. */
typedef void (*irq_handler)(uint32_t vector);
void idt_init(void);
void idt_set_handler(uint32_t vector, irq_handler h);
void lapic_enable(void);
void lapic_eoi(void);
uint32_t lapic_id(void);
void ioapic_write_rte(uint32_t pin, uint64_t rte);
uint64_t ioapic_read_rte(uint32_t pin);
uint32_t ioapic_read(uint32_t reg);

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t strlen(const char *s);
#endif /* !__STDC_HOSTED__ */

#if __STDC_HOSTED__
/* ---------------- host side ---------------- */
#include "platform/platform.h"

#define GT_MAX_REPORTS 64

struct gt_ctx;

/* One guest test: `name`_guest.c is its guest program, `name`_test.c defines this. */
struct guest_test {
	const char *name;
	const char *guest;              /* ELF basename without .elf; default: name */
	const char *cmdline;            /* handed to the guest */
	uint32_t cpus;                  /* default 1 */
	uint64_t mem;                   /* default 16 MiB */
	int expect_exit;                /* hvmm exit code the run must end with */
	bool expect_done;               /* the guest must reach GCALL_DONE with status 0 */
	unsigned timeout_s;             /* default 60 */
	int (*setup)(struct gt_ctx *c); /* devices, before the run */
	uint64_t (*on_sync)(struct gt_ctx *c, uint32_t cpu, uint64_t stage);
	int (*check)(struct gt_ctx *c); /* 0 = pass; gt_fail() else */
};

struct gt_report {
	uint32_t cpu;
	uint64_t key, value;
};

struct gt_ctx {
	const struct guest_test *t;
	const struct hv_ops *hv;
	struct pc *pc; /* the board, with its devices */
	struct vm *vm; /* pc->vm */
	pthread_mutex_t lock;
	char out[8192]; /* guest prints */
	size_t out_len;
	struct gt_report reports[GT_MAX_REPORTS];
	unsigned nr_reports;
	bool done;
	uint64_t done_status;
	bool assert_failed;
	char fail[512];
	char serial_path[512];
	char stderr_path[512];
	void *priv;
};

/* Record a failure message (the first one wins); returns -1 for `return gt_fail(...)`. */
int gt_fail(struct gt_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Value reported by the guest for `key` (the last one); false if never reported. */
bool gt_report(struct gt_ctx *c, uint64_t key, uint64_t *value);
/* Read the serial output file / the run's stderr into buf (NUL-terminated). */
int gt_read_file(const char *path, char *buf, size_t len) WUR;

/* Run one test on one backend in this process; 0 pass, 1 fail (c->fail says why). */
int gt_run(const struct guest_test *t, const struct hv_ops *hv, const char *guest_dir,
           struct gt_ctx *c);

#define GUEST_TEST(sym) const struct guest_test sym
#endif /* __STDC_HOSTED__ */

#endif
