/* SPDX-License-Identifier: MIT */
/*
 * mshv-sim: hv_mshv_sim_ops, hv-mshv's own ops on the simulated /dev/mshv, with hvmm's device
 * callbacks wrapped so that every access and its data is recorded for the cross-check; and
 * the run's statistics.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/mshv-sim/sim.h"

static struct mshv_sim_stats sim_totals;

struct mshv_sim_stats *sim_stats(void)
{
	return &sim_totals;
}

void sim_stat_add(uint64_t *field, uint64_t n)
{
	__atomic_fetch_add(field, n, __ATOMIC_RELAXED);
}

void mshv_sim_get_stats(struct mshv_sim_stats *out)
{
	__atomic_load(&sim_totals.intercepts, &out->intercepts, __ATOMIC_RELAXED);
	__atomic_load(&sim_totals.mmio_checked, &out->mmio_checked, __ATOMIC_RELAXED);
	__atomic_load(&sim_totals.pio_checked, &out->pio_checked, __ATOMIC_RELAXED);
	__atomic_load(&sim_totals.insns_checked, &out->insns_checked, __ATOMIC_RELAXED);
	__atomic_load(&sim_totals.ram_checked, &out->ram_checked, __ATOMIC_RELAXED);
	__atomic_load(&sim_totals.mismatches, &out->mismatches, __ATOMIC_RELAXED);
	__atomic_load(&sim_totals.host_faults, &out->host_faults, __ATOMIC_RELAXED);
	__atomic_load(&sim_totals.eagains, &out->eagains, __ATOMIC_RELAXED);
	__atomic_load(&sim_totals.eagain_partial, &out->eagain_partial, __ATOMIC_RELAXED);
	__atomic_load(&sim_totals.pinned, &out->pinned, __ATOMIC_RELAXED);
}

/* ---- hv_ops on the simulator ---- */

static void sim_rec_add(struct sim_rec *r, bool mmio, bool write, uint64_t addr, const void *data,
                        uint32_t len)
{
	struct sim_access *a;

	if (r->n == SIM_LOG_MAX) {
		r->overflow = true;
		return;
	}
	a = &r->log[r->n++];
	*a = (struct sim_access){ .mmio = mmio, .write = write, .len = len, .addr = addr };
	memcpy(&a->data, data, len < 8 ? len : 8);
}

/* hvmm's device callbacks, wrapped: the access goes on, then it is noted with its data. */
static void sim_rec_pio(void *ctx, uint16_t port, void *data, uint32_t len, bool write)
{
	struct sim_rec *r = ctx;

	r->orig->pio(r->orig->ctx, port, data, len, write);
	sim_rec_add(r, false, write, port, data, len);
}

static void sim_rec_mmio(void *ctx, uint64_t gpa, void *data, uint32_t len, bool write)
{
	struct sim_rec *r = ctx;

	r->orig->mmio(r->orig->ctx, gpa, data, len, write);
	sim_rec_add(r, true, write, gpa, data, len);
}

static void sim_rec_eoi(void *ctx, uint8_t vector)
{
	struct sim_rec *r = ctx;

	r->orig->eoi(r->orig->ctx, vector);
}

uint64_t mshv_sim_take_faults(struct mshv_sim *sim)
{
	uint64_t n = __atomic_exchange_n(&sim_totals.host_faults, 0, __ATOMIC_RELAXED);

	sim->dead = false;
	return n;
}

static int sim_probe(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -ENODEV;
	close(fd);
	return 0;
}

static void sim_free(struct mshv_sim *sim)
{
	for (unsigned i = 0; i < MSHV_MAX_VPS; i++)
		free(sim->rec[i].log);
	free(sim->cpuid);
	free(sim->hv_cpuid);
	if (sim->smaps_fd >= 0)
		close(sim->smaps_fd);
	pthread_mutex_destroy(&sim->lock);
	free(sim);
}

static int sim_vm_create(struct hv_vm **out)
{
	struct mshv_sim *sim = calloc(1, sizeof(*sim));
	const char *env = getenv("HVMM_MSHV_SIM");
	struct hv_caps caps;
	int r;

	if (!sim)
		return -ENOMEM;
	if (mshv_sim_parse_opts(env, &sim->opts)) {
		log_err("HVMM_MSHV_SIM=%s: expected kernel=mainline|bridge, assignable, eagain=N, "
		        "legacy-bars (comma-separated)",
		        env);
		free(sim);
		return -EINVAL;
	}
	pthread_mutex_init(&sim->lock, NULL);
	sim->dev_fd = -1;
	sim->part_fd = -1;
	sim->smaps_fd = -1;
	sim->bridge_fd = -1;
	sim_sys_init(sim);
	r = mshv_vm_create_with(&sim->sys, out);
	if (r) {
		sim_free(sim);
		return r;
	}
	/*
	 * legacy-bars: hv-mshv is told the kernel maps BARs by address, as hvmm did before it
	 * knew better, so the simulator's mainline rule (S1, sim_mem.c) shows what comes of it.
	 */
	mshv_caps(*out, &caps);
	if (sim->opts.legacy_bars && caps.devmem == HV_DEVMEM_TRAP)
		mshv_vm_set_devmem(
		    *out, HV_DEVMEM_DIRECT,
		    "HVMM_MSHV_SIM=legacy-bars: BARs handed to MSHV_SET_GUEST_MEMORY as "
		    "hvmm did before");
	return 0;
}

static void sim_vm_destroy(struct hv_vm *vm)
{
	struct mshv_sim *sim;

	if (!vm)
		return;
	sim = mshv_vm_sys(vm)->ctx;
	mshv_vm_destroy(vm);
	sim_free(sim);
}

static int sim_vcpu_create(struct hv_vm *vm, uint32_t index, uint32_t nr, const struct hv_io *io,
                           struct hv_vcpu **out)
{
	struct mshv_sim *sim = mshv_vm_sys(vm)->ctx;
	struct sim_rec *r;

	if (index >= MSHV_MAX_VPS)
		return -EINVAL;
	r = &sim->rec[index];
	if (!r->log && !(r->log = calloc(SIM_LOG_MAX, sizeof(*r->log))))
		return -ENOMEM;
	r->orig = io;
	r->io = (struct hv_io){
		.ctx = r, .pio = sim_rec_pio, .mmio = sim_rec_mmio, .eoi = sim_rec_eoi
	};
	return mshv_vcpu_create(vm, index, nr, &r->io, out);
}

/* hv-mshv's counters, then the simulated host's. */
static void sim_stats_line(struct hv_vm *vm, char *buf, size_t len)
{
	struct mshv_sim_stats st;
	size_t n;

	hv_mshv_ops.stats(vm, buf, len);
	n = strlen(buf);
	mshv_sim_get_stats(&st);
	snprintf(buf + n, len - n,
	         "; simulated host: %llu intercepts, %llu EAGAIN, %llu MiB pinned, %llu host "
	         "faults, %llu cross-check mismatches",
	         (unsigned long long)st.intercepts, (unsigned long long)st.eagains,
	         (unsigned long long)(st.pinned >> 20), (unsigned long long)st.host_faults,
	         (unsigned long long)st.mismatches);
}

/*
 * The simulator stands in for /dev/mshv inside the process: the system calls the running VM
 * makes are its KVM ones (run, registers, MSRs, translation, memory, interrupts).
 */
static const uint32_t sim_run_ioctls[] = {
	KVM_RUN,
	KVM_GET_REGS,
	KVM_SET_REGS,
	KVM_GET_SREGS,
	KVM_SET_SREGS,
	KVM_GET_MP_STATE,
	KVM_SET_MP_STATE,
	KVM_GET_MSRS,
	KVM_SET_MSRS,
	KVM_TRANSLATE,
	KVM_SET_USER_MEMORY_REGION,
	KVM_IRQFD,
	KVM_IOEVENTFD,
	KVM_SET_GSI_ROUTING,
	KVM_SIGNAL_MSI,
};

const struct hv_ops hv_mshv_sim_ops = {
	.name = "mshv-sim",
	.probe = sim_probe,
	.vm_create = sim_vm_create,
	.vm_destroy = sim_vm_destroy,
	.caps = mshv_caps,
	.mem_map = mshv_mem_map,
	.mem_unmap = mshv_mem_unmap,
	.vcpu_create = sim_vcpu_create,
	.vcpu_destroy = mshv_vcpu_destroy,
	.vcpu_set_state = mshv_vcpu_set_state,
	.vcpu_get_regs = mshv_vcpu_get_regs,
	.vcpu_set_regs = mshv_vcpu_set_regs,
	.vcpu_get_sregs = mshv_vcpu_get_sregs,
	.vcpu_set_sregs = mshv_vcpu_set_sregs,
	.vcpu_run = mshv_vcpu_run,
	.vcpu_kick = mshv_vcpu_kick,
	.irqfd_assign = mshv_irqfd_assign,
	.irqfd_deassign = mshv_irqfd_deassign,
	.ioeventfd_assign = mshv_ioeventfd_assign,
	.ioeventfd_deassign = mshv_ioeventfd_deassign,
	.set_msi_routes = mshv_set_msi_routes,
	.signal_msi = mshv_signal_msi,
	.vfio_group_add = mshv_vfio_group_add,
	.stats = sim_stats_line,
	.run_ioctls = sim_run_ioctls,
	.nr_run_ioctls = ARRAY_SIZE(sim_run_ioctls),
};
