/* SPDX-License-Identifier: MIT */
/*
 * hv-mshv: the run loop.  MSHV_RUN_VP returns one intercept message; the VP stays on the
 * intercepted instruction until hvmm has done what it asked and moved RIP on.  Port I/O is
 * completed here directly; MMIO and string port I/O go through the emulator (emulate.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hv-mshv/internal.h"

/* ---- intercepts ---- */

static int mshv_set_rip_rax(struct hv_vcpu *v, uint64_t rip, bool set_rax, uint64_t rax)
{
	uint32_t names[2] = { MSHV_REG_RIP, MSHV_REG_RAX };
	union mshv_reg_value vals[2] = { { .reg64 = rip }, { .reg64 = rax } };

	if (mshv_page_valid(v)) {
		v->regs->rip = rip;
		v->regs->dirty |= MSHV_REGPAGE_DIRTY_IP;
		if (set_rax) {
			v->regs->gpr[EMU_REG_RAX] = rax;
			v->regs->dirty |= MSHV_REGPAGE_DIRTY_GENERAL;
		}
		return 0;
	}
	return mshv_set_regs(v, names, vals, set_rax ? 2 : 1);
}

/* Instruction length from the header, or decoded when a message leaves it out. */
static unsigned mshv_insn_len(const struct mshv_intercept_header *h, const uint8_t *insn,
                              unsigned count, unsigned fallback)
{
	struct emu_insn d;
	unsigned len = h->insn_len_cr8 & 0xf;

	if (len)
		return len;
	if (count && !emu_decode(insn, count, mshv_mode(h->exec_state, h->cs.attributes), &d))
		return d.len;
	return fallback;
}

/*
 * An intercept taken while the VP was delivering an event (an interrupt or exception whose
 * IDT entry, stack or handler is not RAM) belongs to no instruction: RIP holds the
 * interrupted one, which must not be emulated.  OpenVMM gives up the same way
 * (virt_support_x86emu emulate(): "a fault or interruption *caused* the intercept ... there is
 * nothing to emulate"); injecting a fault would loop.  The guest is as good as triple-faulted.
 */
static bool mshv_interruption_pending(struct hv_vcpu *v, const struct mshv_intercept_header *h,
                                      uint64_t gpa, enum hv_exit *out, bool *done)
{
	if (!(h->exec_state & MSHV_EXEC_INTERRUPTION_PENDING))
		return false;
	log_err("vCPU %u: the hypervisor intercepted an event delivery, not an instruction (gpa "
	        "%#llx, rip %#llx): the guest's IDT, stack or handler is not RAM; the VM stops as "
	        "crashed",
	        v->index, (unsigned long long)gpa, (unsigned long long)h->rip);
	*out = HV_EXIT_SHUTDOWN;
	*done = true;
	return true;
}

static int mshv_handle_io(struct hv_vcpu *v, const struct mshv_msg_io *m)
{
	unsigned size = MSHV_IO_SIZE(m->access_info);
	bool write = m->h.access_type == MSHV_ACCESS_WRITE;
	unsigned count = m->insn_count < 16 ? m->insn_count : 16;
	uint64_t data = 0, rax = m->rax, mask;

	if (m->access_info & (MSHV_IO_STRING | MSHV_IO_REP))
		return mshv_emulate(v, &m->h, m->insn, count, NULL);
	if (size != 1 && size != 2 && size != 4) {
		log_err("vCPU %u: port I/O intercept of %u bytes at port %#x", v->index, size,
		        m->port);
		return -EIO;
	}
	mask = (1ull << (8 * size)) - 1;
	if (write) {
		data = rax & mask;
		v->io->pio(v->io->ctx, m->port, &data, size, true);
	} else {
		v->io->pio(v->io->ctx, m->port, &data, size, false);
		/* IN AL/AX merge into RAX; IN EAX zero-extends, like any 32-bit write. */
		rax = size == 4 ? (data & mask) : (rax & ~mask) | (data & mask);
	}
	return mshv_set_rip_rax(v, m->h.rip + mshv_insn_len(&m->h, m->insn, count, 1), !write, rax);
}

static int mshv_handle_mem(struct hv_vcpu *v, const struct mshv_msg_mem *m, enum hv_exit *out,
                           bool *done)
{
	unsigned count = m->insn_count < 16 ? m->insn_count : 16;
	/*
	 * The GPA is the faulting one.  When the GVA is reported but the pair is not valid, the
	 * GPA may belong to a page-table access, so the emulator translates everything then.
	 */
	bool gva = m->access_info & MSHV_MEM_GVA_VALID;
	struct emu_hint hint = {
		.gpa_valid = !gva || (m->access_info & MSHV_MEM_GVA_GPA_VALID),
		.gva_valid = gva,
		.gpa = m->gpa,
		.gva = m->gva,
	};

	if (mshv_interruption_pending(v, &m->h, m->gpa, out, done))
		return 0;
	if (m->h.access_type == MSHV_ACCESS_EXECUTE) {
		log_err("vCPU %u: the guest runs code at gpa %#llx, which is not RAM (rip %#llx)",
		        v->index, (unsigned long long)m->gpa, (unsigned long long)m->h.rip);
		*out = HV_EXIT_SHUTDOWN;
		*done = true;
		return 0;
	}
	return mshv_emulate(v, &m->h, m->insn, count, &hint);
}

static int mshv_handle_msr(struct hv_vcpu *v, const struct mshv_msg_msr *m)
{
	uint32_t dropped = 0;
	bool write = m->h.access_type == MSHV_ACCESS_WRITE;
	uint64_t rip = m->h.rip + ((m->h.insn_len_cr8 & 0xf) ? (m->h.insn_len_cr8 & 0xf) : 2);
	uint32_t names[3] = { MSHV_REG_RIP, MSHV_REG_RAX, MSHV_REG_RDX };
	union mshv_reg_value vals[3] = { { .reg64 = rip } };

	/* Only MSRs hvmm asked to intercept arrive here; none are: act like an unknown MSR. */
	if (ratelimit_allow(&v->msr_rl, &dropped))
		log_warn("vCPU %u: %s of MSR %#x ignored%s", v->index, write ? "wrmsr" : "rdmsr",
		         m->msr, dropped ? " (and earlier ones)" : "");
	if (mshv_page_valid(v)) {
		v->regs->rip = rip;
		v->regs->dirty |= MSHV_REGPAGE_DIRTY_IP;
		if (!write) {
			v->regs->gpr[EMU_REG_RAX] = 0;
			v->regs->gpr[EMU_REG_RDX] = 0;
			v->regs->dirty |= MSHV_REGPAGE_DIRTY_GENERAL;
		}
		return 0;
	}
	return mshv_set_regs(v, names, vals, write ? 1 : 3);
}

static int mshv_handle_cpuid(struct hv_vcpu *v, const struct mshv_msg_cpuid *m)
{
	uint64_t rip = m->h.rip + ((m->h.insn_len_cr8 & 0xf) ? (m->h.insn_len_cr8 & 0xf) : 2);
	uint32_t names[5] = { MSHV_REG_RIP, MSHV_REG_RAX, MSHV_REG_RBX, MSHV_REG_RCX,
		              MSHV_REG_RDX };
	union mshv_reg_value vals[5] = { { .reg64 = rip },
		                         { .reg64 = m->default_rax },
		                         { .reg64 = m->default_rbx },
		                         { .reg64 = m->default_rcx },
		                         { .reg64 = m->default_rdx } };

	/* The registered results are already applied in the default values. */
	if (mshv_page_valid(v)) {
		struct mshv_reg_page *p = v->regs;

		p->rip = rip;
		p->gpr[EMU_REG_RAX] = m->default_rax;
		p->gpr[EMU_REG_RBX] = m->default_rbx;
		p->gpr[EMU_REG_RCX] = m->default_rcx;
		p->gpr[EMU_REG_RDX] = m->default_rdx;
		p->dirty |= MSHV_REGPAGE_DIRTY_IP | MSHV_REGPAGE_DIRTY_GENERAL;
		return 0;
	}
	return mshv_set_regs(v, names, vals, 5);
}

/*
 * A HALT message.  In a LAPIC partition the hypervisor waits for interrupts itself, so a HALT
 * message is not expected (OpenVMM has no arm for it, Cloud Hypervisor takes it for a reset);
 * hvmm returns it to core, which runs the VP again -- inside MSHV_RUN_VP, where the
 * hypervisor waits.  Should it come back at once with RIP still at the same place (a
 * hypervisor that leaves HLT to the VMM), re-entering blindly would spin a host CPU: from the
 * third in a row at one RIP with no other message between, each re-entry is paced, the pause
 * doubling from 50 us to 10 ms.  An interrupt still wakes the guest at the next entry.
 */
#define MSHV_HALT_PAUSE_MIN_NS 50000ull
#define MSHV_HALT_PAUSE_MAX_NS 10000000ull

static void mshv_handle_halt(struct hv_vcpu *v, const struct mshv_intercept_header *h)
{
	uint64_t pause;
	struct timespec ts;

	if (h->rip != v->halt_rip || !v->halts_in_a_row) {
		v->halt_rip = h->rip;
		v->halts_in_a_row = 1;
		return;
	}
	if (++v->halts_in_a_row < 3)
		return;
	if (v->halts_in_a_row == 3 && !v->halt_pauses)
		log_warn("vCPU %u: the hypervisor returns HALT at rip %#llx again and again; hvmm "
		         "paces its re-entries (the guest%s)",
		         v->index, (unsigned long long)h->rip,
		         (h->rflags & (1u << 9)) ? " waits for an interrupt"
		                                 : " halted with interrupts off");
	pause = MSHV_HALT_PAUSE_MIN_NS << (v->halts_in_a_row - 3 < 8 ? v->halts_in_a_row - 3 : 8);
	if (pause > MSHV_HALT_PAUSE_MAX_NS)
		pause = MSHV_HALT_PAUSE_MAX_NS;
	ts = (struct timespec){ (time_t)(pause / 1000000000ull), (long)(pause % 1000000000ull) };
	nanosleep(&ts, NULL);
	v->halt_pauses++;
	atomic_fetch_add(&v->vm->halt_pauses, 1);
}

/* Act on one message.  *done says vcpu_run returns *out; otherwise the VP runs on. */
static int mshv_handle_msg(struct hv_vcpu *v, const struct mshv_msg *msg, enum hv_exit *out,
                           bool *done)
{
	union {
		struct mshv_msg_io io;
		struct mshv_msg_mem mem;
		struct mshv_msg_msr msr;
		struct mshv_msg_cpuid cpuid;
		struct mshv_msg_eoi eoi;
		struct mshv_msg_opaque opaque;
		struct mshv_intercept_header h;
	} p;

	_Static_assert(sizeof(p) <= MSHV_MSG_PAYLOAD, "payload");
	memcpy(&p, msg->payload, sizeof(p));
	*done = false;
	switch (msg->type) {
	case MSHV_MSG_X64_IO_PORT:
		/* Only string I/O is emulated, so only it must not run for an event delivery. */
		if ((p.io.access_info & (MSHV_IO_STRING | MSHV_IO_REP)) &&
		    mshv_interruption_pending(v, &p.io.h, p.io.port, out, done))
			return 0;
		return mshv_handle_io(v, &p.io);
	case MSHV_MSG_UNMAPPED_GPA:
	case MSHV_MSG_GPA_INTERCEPT:
		return mshv_handle_mem(v, &p.mem, out, done);
	case MSHV_MSG_X64_HALT:
		mshv_handle_halt(v, &p.h);
		*out = HV_EXIT_HALT;
		*done = true;
		return 0;
	case MSHV_MSG_X64_APIC_EOI:
		v->io->eoi(v->io->ctx, (uint8_t)p.eoi.vector);
		return 0;
	case MSHV_MSG_X64_MSR:
		return mshv_handle_msr(v, &p.msr);
	case MSHV_MSG_X64_CPUID:
		return mshv_handle_cpuid(v, &p.cpuid);
	case MSHV_MSG_UNRECOVERABLE_EXCEPTION:
		log_debug("vCPU %u: unrecoverable exception at rip %#llx", v->index,
		          (unsigned long long)p.h.rip);
		*out = HV_EXIT_SHUTDOWN;
		*done = true;
		return 0;
	case MSHV_MSG_INVALID_VP_REGISTER:
		/* Its payload is {vp_index, reserved}, not an intercept header: there is no RIP. */
		log_err("vCPU %u: the hypervisor will not run VP %u: one of its registers holds an "
		        "invalid value",
		        v->index, p.opaque.vp_index);
		return -EINVAL;
	case MSHV_MSG_UNSUPPORTED_FEATURE:
		log_err("vCPU %u: the guest used a feature the hypervisor does not support",
		        v->index);
		return -ENOTSUP;
	case MSHV_MSG_X64_SIPI:
		/* hvmm installs no SIPI intercept: the hypervisor starts APs itself. */
		log_debug("vCPU %u: SIPI intercept ignored", v->index);
		return 0;
	case MSHV_MSG_NONE:
		return 0;
	default:
		log_err("vCPU %u: unexpected MSHV message type %#x", v->index, msg->type);
		return -EIO;
	}
}

int mshv_vcpu_run(struct hv_vcpu *v, enum hv_exit *out)
{
	const struct mshv_sys *sys = &v->vm->sys;

	if (!atomic_load_explicit(&v->have_thread, memory_order_relaxed)) {
		v->thread = pthread_self();
		atomic_store(&v->have_thread, true);
	}
	for (;;) {
		struct mshv_msg msg;
		bool done;
		int r;

		/* The kick protocol's vCPU side: in_run up, then the flag, then the ioctl. */
		atomic_store(&v->in_run, true);
		if (atomic_exchange(&v->kick, false)) {
			atomic_store(&v->in_run, false);
			*out = HV_EXIT_INTERRUPTED;
			return 0;
		}
		r = sys->ioctl(sys->ctx, v->fd, MSHV_RUN_VP, &v->run);
		atomic_store(&v->in_run, false);
		if (r == -EINTR) {
			atomic_store(&v->kick, false);
			*out = HV_EXIT_INTERRUPTED;
			return 0;
		}
		if (r == -EAGAIN)
			continue;
		if (r < 0) {
			log_err("MSHV_RUN_VP vCPU %u: %s", v->index, strerror(-r));
			return r;
		}
		memcpy(&msg, v->run.msg_buf, sizeof(msg));
		if (msg.type != MSHV_MSG_X64_HALT)
			v->halts_in_a_row = 0;
		r = mshv_handle_msg(v, &msg, out, &done);
		if (r || done)
			return r;
	}
}
