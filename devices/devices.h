/* SPDX-License-Identifier: MIT */
/*
 * devices: the emulated chipset devices, built on core's buses and hooks (pci/ and vfio/ have
 * headers of their own).  Each *_create() registers the device's ranges and a teardown with
 * vm_on_destroy(), so callers never free devices themselves; the board (platform/pc.c) says
 * which exist and hands each what it is wired to.  Register handlers must tolerate any access
 * a guest can make (any offset within the range, any size from 1 to 8): they never log more
 * than under a rate limit and never fail the VMM.
 */
#ifndef HVMM_DEVICES_H
#define HVMM_DEVICES_H

#include "core/vm.h"

/* ---- IOAPIC (devices/ioapic.c) ------------------------------------------------------------ */
/*
 * A userspace 82093AA IOAPIC at MEM_IOAPIC_BASE with IOAPIC_PINS pins.  Pin N is GSI N: each
 * redirection entry is kept as the MSI route of that GSI and delivered by writing the pin's
 * irqfd, so KVM (split irqchip) and MSHV share this one path.  Level-triggered pins hold
 * Remote IRR until the guest's EOI comes back through ioapic_eoi(), which ioapic_create()
 * registers as the VM's EOI hook.
 */
struct ioapic;
struct ioapic_stats {
	uint64_t delivered;
	uint64_t eois;
};
int ioapic_create(struct vm *vm, struct ioapic **out) WUR;
/* Drive input `pin` to `level` (true = asserted).  Any thread.  Out-of-range pins are ignored. */
void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level);
/* The guest ended the interrupt with `vector` (from the hypervisor's EOI exit). */
void ioapic_eoi(struct ioapic *io, uint8_t vector);
void ioapic_stats(struct ioapic *io, struct ioapic_stats *out);
/*
 * A level-triggered source wired straight to a pin: the device signals an eventfd of its own,
 * bound with an irqfd to the pin's GSI, so its interrupts reach the guest without passing
 * through hvmm -- and without the IOAPIC's Remote IRR.  Such a source masks itself each time
 * it signals (VFIO's INTx does) and is told when the pin can take its next interrupt:
 * fn(opaque, true) at an EOI of the pin's vector while the pin is unmasked and when the guest
 * unmasks the pin, fn(opaque, false) when the guest masks it.  Called with the IOAPIC's lock
 * held, on the vCPU thread of the EOI or the register write: fn must not call back into the
 * IOAPIC.  Several sources may share a pin (INTx lines are shared); each is told.
 */
#define IOAPIC_MAX_SOURCES 32
typedef void (*ioapic_source_fn)(void *opaque, bool ready);
/* -EINVAL for a pin out of range, -ENOSPC past IOAPIC_MAX_SOURCES in all. */
int ioapic_add_source(struct ioapic *io, unsigned pin, ioapic_source_fn fn, void *opaque) WUR;
void ioapic_del_source(struct ioapic *io, unsigned pin, ioapic_source_fn fn, void *opaque);

/* ---- 16550A UART (devices/serial.c) -------------------------------------------------------- */
#define COM1_PORT 0x3f8
#define COM1_IRQ  4
enum serial_mode { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE };
struct serial;
/*
 * COM1 with a 16-byte FIFO, THR-empty, receive and line-status interrupts and loopback, so
 * the Linux 8250 driver runs it interrupt-driven on `ioapic` pin COM1_IRQ (NULL: no
 * interrupts).  Output goes to stdout or a file; input comes from stdin through the event
 * loop.  On a terminal, stdin is put in raw mode and restored at teardown and by
 * vm_abandon(); Ctrl-A x stops the VM (exit 128 + SIGINT), Ctrl-A Ctrl-A sends ^A.
 */
int serial_create(struct vm *vm, struct ioapic *ioapic, enum serial_mode mode, const char *path,
                  struct serial **out) WUR;
/* Feed bytes as if they arrived on the line (stdin does this; tests too).  Returns bytes taken. */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);

/* ---- Power and reset (devices/power.c) ------------------------------------------------------ */
/*
 * ACPI hardware-reduced sleep control at POWER_PORT (S5 = poweroff, exit 0), its status
 * register at +1, the ACPI reset register at +2, and the i8042 reset command (0xFE to 0x64):
 * a reset ends the VM with VM_EXIT_RESET.
 */
#define POWER_PORT        0x600
#define POWER_SLEEP_CTL   (POWER_PORT + 0)
#define POWER_SLEEP_STS   (POWER_PORT + 1)
#define POWER_RESET_REG   (POWER_PORT + 2)
#define POWER_RESET_VALUE 0x1
#define POWER_S5_TYP      5
int power_create(struct vm *vm) WUR;

/* ---- Generic Event Device (devices/ged.c) --------------------------------------------------- */
/*
 * The register behind the DSDT's Generic Event Device (ACPI0013): GED_LEN bytes at GED_PORT, a
 * little-endian mask of pending GED_EV_* events.  A read of the whole register returns the
 * events and clears them; IOAPIC pin GED_IRQ (level, active high) is asserted while any are
 * pending.  Writes are ignored.
 */
#define GED_PORT            (POWER_PORT + 4)
#define GED_LEN             4
#define GED_IRQ             20
#define GED_EV_POWER_BUTTON (1u << 0) /* the DSDT's _EVT notifies \_SB.PWRB with 0x80 */
struct ged;
int ged_create(struct vm *vm, struct ioapic *ioapic, struct ged **out) WUR;
/* Raise `events` (GED_EV_*): they wait until the guest reads them.  Any thread. */
void ged_event(struct ged *g, uint32_t events);

#endif
