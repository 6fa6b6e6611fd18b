/* SPDX-License-Identifier: MIT */
/* The guest's ways to power off and reset: ACPI sleep/reset registers and the i8042 pulse. */
#include <errno.h>
#include <string.h>

#include "devices/devices.h"

#define SLP_EN      (1u << 5)
#define SLP_TYP(v)  (((v) >> 2) & 7)
#define I8042_CMD   0x64
#define I8042_RESET 0xfe

static void power_acpi(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	struct vm *vm = opaque;
	uint8_t v = *(uint8_t *)data;

	if (!is_write) {
		memset(data, 0, len); /* sleep status: awake; nothing else to read */
		return;
	}
	if (off == 0 && (v & SLP_EN) && SLP_TYP(v) == POWER_S5_TYP) {
		log_info("guest powered off");
		vm_stop(vm, VM_EXIT_POWEROFF);
	} else if (off == 2 && v == POWER_RESET_VALUE) {
		log_info("guest reset");
		vm_stop(vm, VM_EXIT_RESET);
	}
}

static void power_i8042(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	struct vm *vm = opaque;

	(void)off;
	if (!is_write) {
		/* Status 0: no data, input buffer empty, so drivers never wait on this port. */
		memset(data, 0, len);
		return;
	}
	if (*(uint8_t *)data == I8042_RESET) {
		log_info("guest reset through the i8042");
		vm_stop(vm, VM_EXIT_RESET);
	}
}

int power_create(struct vm *vm)
{
	int r = bus_register(&vm->pio, POWER_PORT, 4, power_acpi, vm, "acpi power");

	if (r)
		return r;
	return bus_register(&vm->pio, I8042_CMD, 1, power_i8042, vm, "i8042 reset");
}
