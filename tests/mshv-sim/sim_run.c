/* SPDX-License-Identifier: MIT */
/*
 * mshv-sim: MSHV_RUN_VP on KVM_RUN, and the cross-check of hvmm's emulation against KVM's.
 *
 * After hvmm has handled an intercept, the simulator does not apply hvmm's registers: it lets
 * KVM finish the instruction itself, feeding it the data hvmm's devices returned and checking
 * the data hvmm wrote, one access at a time, then compares KVM's registers with hvmm's (and,
 * for INS and MOVS, the bytes written to RAM).  KVM does one string element per exit (INS a
 * batch) and goes back to the guest to re-execute a REP instruction between them, so a REP
 * that hvmm ran in one go is replayed in KVM element by element.  If the two ever differ, the
 * simulator's reconstruction (sim_present.c) or hvmm's emulation is wrong: either way the run
 * fails loudly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "tests/mshv-sim/sim.h"

#define X86_RFLAGS_RF (1ull << 16)

/* ---- the cross-check ---- */

/* "rip 0x... [bytes]" of the pending instruction, for messages. */
static const char *sim_where(const struct sim_vp *vp, char *buf, size_t len)
{
	const struct sim_insn *in = &vp->pend.insn;
	size_t n = (size_t)snprintf(buf, len, "rip %#llx [", (unsigned long long)in->rip);

	for (unsigned i = 0; i < in->nbytes && n + 4 < len; i++)
		n += (size_t)snprintf(buf + n, len - n, i ? " %02x" : "%02x", in->bytes[i]);
	if (n + 2 < len)
		snprintf(buf + n, len - n, "]");
	return buf;
}

static int sim_compare(struct sim_vp *vp, const struct kvm_regs *k, const struct kvm_regs *h,
                       const char *when)
{
	static const char *const names[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp",
		                               "rsi", "rdi", "r8",  "r9",  "r10", "r11",
		                               "r12", "r13", "r14", "r15" };
	struct kvm_regs a = *k, b = *h;
	char diff[512] = "", bytes[96];
	size_t n = 0;

	for (unsigned i = 0; i < 16 && n < sizeof(diff); i++)
		if (*sim_gpr(&a, i) != *sim_gpr(&b, i))
			n +=
			    (size_t)snprintf(diff + n, sizeof(diff) - n, " %s kvm %#llx hvmm %#llx",
			                     names[i], (unsigned long long)*sim_gpr(&a, i),
			                     (unsigned long long)*sim_gpr(&b, i));
	if (a.rip != b.rip && n < sizeof(diff))
		n += (size_t)snprintf(diff + n, sizeof(diff) - n, " rip kvm %#llx hvmm %#llx",
		                      (unsigned long long)a.rip, (unsigned long long)b.rip);
	/*
	 * KVM sets RF when it restarts a REP instruction between elements, as hardware does when
	 * one is interrupted; the guest's next instruction clears it.  hvmm runs REPs in one go.
	 */
	if ((a.rflags ^ b.rflags) & ~X86_RFLAGS_RF && n < sizeof(diff))
		n += (size_t)snprintf(diff + n, sizeof(diff) - n, " rflags kvm %#llx hvmm %#llx",
		                      (unsigned long long)a.rflags, (unsigned long long)b.rflags);
	if (!n)
		return 0;
	return sim_mismatch(vp, "registers %s the instruction at %s:%s", when,
	                    sim_where(vp, bytes, sizeof(bytes)), diff);
}

static void sim_describe(char *buf, size_t len, const struct sim_access *a)
{
	snprintf(buf, len, "%s %s of %u bytes at %#llx data %#llx", a->mmio ? "MMIO" : "port",
	         a->write ? "write" : "read", a->len, (unsigned long long)a->addr,
	         (unsigned long long)a->data);
}

/* Give KVM's access the device data hvmm got, or check the data hvmm wrote. */
static int sim_match(struct sim_vp *vp, unsigned *i)
{
	struct kvm_run *run = vp->run;
	struct sim_rec *rec = vp->rec;
	struct sim_io io;

	sim_io_of(run, &io);
	for (unsigned e = 0; e < io.count; e++, (*i)++) {
		uint8_t *kdata =
		    io.mmio ? run->mmio.data : (uint8_t *)run + run->io.data_offset + e * io.size;
		struct sim_access k = {
			.mmio = io.mmio, .write = io.write, .len = io.size, .addr = io.addr
		};
		char ks[128], hs[128], at[96];

		memcpy(&k.data, kdata, io.size < 8 ? io.size : 8);
		sim_describe(ks, sizeof(ks), &k);
		if (*i >= rec->n)
			return sim_mismatch(vp, "%s: KVM made a %s, hvmm made no more accesses",
			                    sim_where(vp, at, sizeof(at)), ks);
		sim_describe(hs, sizeof(hs), &rec->log[*i]);
		if (rec->log[*i].mmio != io.mmio || rec->log[*i].write != io.write ||
		    rec->log[*i].addr != io.addr || rec->log[*i].len != io.size ||
		    (io.write && memcmp(&rec->log[*i].data, kdata, io.size)))
			return sim_mismatch(vp, "%s: access %u: KVM made a %s, hvmm a %s",
			                    sim_where(vp, at, sizeof(at)), *i, ks, hs);
		if (!io.write)
			memcpy(kdata, &rec->log[*i].data, io.size);
	}
	sim_stat_add(io.mmio ? &sim_stats()->mmio_checked : &sim_stats()->pio_checked, io.count);
	return 0;
}

/* KVM_RUN that finishes the pending access only: 1 if KVM stopped, 0 on a new exit. */
static int sim_kvm_finish(struct sim_vp *vp)
{
	int r;

	vp->run->immediate_exit = 1;
	r = ioctl(vp->fd, KVM_RUN, 0);
	vp->run->immediate_exit = 0;
	if (r == 0)
		return 0;
	return errno == EINTR ? 1 : -errno;
}

/* Bytes a string instruction wrote to RAM, as hvmm wrote them, to compare with KVM's. */
struct sim_snap {
	uint64_t la;
	unsigned len;
	uint8_t *buf;
};

static void sim_snap_take(struct sim_vp *vp, struct sim_snap *sn)
{
	const struct sim_pending *pd = &vp->pend;
	const struct emu_insn *d = &pd->insn.d;
	uint64_t lo, len;

	memset(sn, 0, sizeof(*sn));
	if (!pd->insn.decoded || (d->op != EMU_OP_INS && d->op != EMU_OP_MOVS))
		return;
	if (pd->pre.rflags & EMU_FLAG_DF) {
		lo = pd->shadow.rdi + d->op_size;
		len = (pd->pre.rdi - pd->shadow.rdi) & sim_amask(d->addr_size);
	} else {
		lo = pd->pre.rdi;
		len = (pd->shadow.rdi - pd->pre.rdi) & sim_amask(d->addr_size);
	}
	if (!len || len > 65536 || !(sn->buf = malloc(len)))
		return;
	sn->la = sim_la(&pd->sregs, EMU_SEG_ES, lo, d->addr_size);
	sn->len = (unsigned)len;
	if (sim_read_linear(vp, sn->la, sn->buf, sn->len) != sn->len)
		sn->len = 0; /* not RAM (an MMIO destination): the accesses were compared instead */
}

static int sim_snap_check(struct sim_vp *vp, struct sim_snap *sn)
{
	uint8_t *now;
	int r = 0;

	if (!sn->len || !(now = malloc(sn->len)))
		goto out;
	if (sim_read_linear(vp, sn->la, now, sn->len) == sn->len && memcmp(now, sn->buf, sn->len))
		r = sim_mismatch(vp, "KVM wrote other bytes than hvmm to guest RAM at la %#llx",
		                 (unsigned long long)sn->la);
	else
		sim_stat_add(&sim_stats()->ram_checked, sn->len);
	free(now);
out:
	free(sn->buf);
	return r;
}

/* A REP string instruction that KVM left on its first byte with nothing left to do. */
static int sim_normalize(struct sim_vp *vp, struct kvm_regs *k)
{
	const struct sim_insn *in = &vp->pend.insn;

	if (k->rip != in->rip || !in->decoded || !in->d.rep || !sim_string_op(in->d.op) ||
	    (k->rcx & sim_amask(in->d.addr_size)))
		return 0;
	k->rip = in->rip + in->d.len;
	return ioctl(vp->fd, KVM_SET_REGS, k) < 0 ? -errno : 0;
}

/*
 * Let KVM finish the pending instruction with hvmm's data and compare.  Returns 0 when it is
 * done, 1 when vp->run holds a new non-I/O exit, 2 when *next holds the intercept for a new I/O
 * exit KVM reached after hvmm's part (a REP longer than one emulator call), or -errno.
 */
static int sim_complete(struct sim_vp *vp, struct sim_prep *next)
{
	struct sim_pending *pd = &vp->pend;
	struct kvm_run *run = vp->run;
	struct sim_snap sn;
	struct kvm_regs k;
	unsigned i = 0;
	int r;

	if (vp->rec->overflow)
		return sim_mismatch(vp, "hvmm made over %u accesses for one instruction",
		                    SIM_LOG_MAX);
	if (!pd->written)
		return sim_mismatch(vp,
		                    "hvmm resumed the VP without completing the intercept at "
		                    "rip %#llx",
		                    (unsigned long long)pd->pre.rip);
	sim_snap_take(vp, &sn);
	for (;;) {
		if ((run->exit_reason != KVM_EXIT_MMIO && run->exit_reason != KVM_EXIT_IO) ||
		    i >= vp->rec->n)
			break;
		if ((r = sim_match(vp, &i)) || (r = sim_kvm_finish(vp)) < 0)
			goto out;
		while (r == 1) {
			if (ioctl(vp->fd, KVM_GET_REGS, &k) < 0) {
				r = -errno;
				goto out;
			}
			if (i == vp->rec->n) {
				if ((r = sim_normalize(vp, &k)) ||
				    (r = sim_compare(vp, &k, &pd->shadow, "after")) ||
				    (r = sim_snap_check(vp, &sn)))
					return r;
				sim_stat_add(&sim_stats()->insns_checked, 1);
				return 0;
			}
			/* hvmm did more REP elements than KVM so far: KVM re-executes the REP. */
			if (vp->finishing) {
				r = 0; /* the VM is going away: do not run the guest again */
				goto out;
			}
			if (k.rip != pd->insn.rip || !pd->insn.d.rep) {
				r = sim_mismatch(vp,
				                 "hvmm made %u accesses, KVM finished the "
				                 "instruction after %u",
				                 vp->rec->n, i);
				goto out;
			}
			do
				r = ioctl(vp->fd, KVM_RUN, 0);
			while (r < 0 && (errno == EINTR || errno == EAGAIN));
			if (r < 0) {
				r = -errno;
				goto out;
			}
		}
	}
	/* KVM went on past what hvmm did: hvmm's registers must be its state there. */
	if (i < vp->rec->n) {
		r = sim_mismatch(vp, "KVM left the instruction after %u of hvmm's %u accesses", i,
		                 vp->rec->n);
		goto out;
	}
	if (run->exit_reason == KVM_EXIT_MMIO || run->exit_reason == KVM_EXIT_IO) {
		if ((r = sim_prepare(vp, next)) ||
		    (r = sim_compare(vp, &next->pre, &pd->shadow, "before the next element of")))
			goto out;
		r = 2;
	} else if (ioctl(vp->fd, KVM_GET_REGS, &k) < 0) {
		r = -errno;
		goto out;
	} else if (!(r = sim_compare(vp, &k, &pd->shadow, "after"))) {
		r = 1;
	}
	if (r == 1 || r == 2) {
		int c = sim_snap_check(vp, &sn);

		sim_stat_add(&sim_stats()->insns_checked, 1);
		return c ? c : r;
	}
out:
	free(sn.buf);
	return r;
}

/* hvmm's writes to the register page: to KVM, or to the shadow while an intercept is open. */
static int sim_take_page(struct sim_vp *vp)
{
	struct mshv_reg_page *p = vp->page;
	uint32_t d = p->dirty;
	struct kvm_regs r;
	struct kvm_sregs s;

	if (!d)
		return 0;
	p->dirty = 0;
	if (d & MSHV_REGPAGE_DIRTY_XMM) {
		log_err("mshv-sim: XMM registers through the register page are not modelled");
		return -EINVAL;
	}
	if (vp->pend.active)
		r = vp->pend.shadow;
	else if (ioctl(vp->fd, KVM_GET_REGS, &r) < 0)
		return -errno;
	if (d & MSHV_REGPAGE_DIRTY_GENERAL)
		for (unsigned i = 0; i < 16; i++)
			*sim_gpr(&r, i) = p->gpr[i];
	if (d & MSHV_REGPAGE_DIRTY_IP)
		r.rip = p->rip;
	if (d & MSHV_REGPAGE_DIRTY_FLAGS)
		r.rflags = p->rflags;
	if (d & MSHV_REGPAGE_DIRTY_SEGMENT) {
		if (vp->pend.active || ioctl(vp->fd, KVM_GET_SREGS, &s) < 0) {
			log_err(
			    "mshv-sim: segment registers written through the page mid-intercept");
			return -EINVAL;
		}
		log_err("mshv-sim: segment registers through the register page are not modelled");
		return -EINVAL;
	}
	if (vp->pend.active) {
		vp->pend.shadow = r;
		vp->pend.written = true;
		return 0;
	}
	return ioctl(vp->fd, KVM_SET_REGS, &r) < 0 ? -errno : 0;
}

/* A message without an intercepted instruction to finish (or none at all: *deliver false). */
static int sim_other_exit(struct sim_vp *vp, struct mshv_run_vp *out, bool *deliver)
{
	struct kvm_run *run = vp->run;
	struct mshv_msg msg = { 0 };
	struct kvm_regs r;
	struct kvm_sregs s;

	*deliver = true;
	if (ioctl(vp->fd, KVM_GET_REGS, &r) < 0 || ioctl(vp->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	sim_fill_page(vp, &r, &s);
	switch (run->exit_reason) {
	case KVM_EXIT_IOAPIC_EOI: {
		struct mshv_msg_eoi e = { .vp_index = vp->index, .vector = run->eoi.vector };

		msg.type = MSHV_MSG_X64_APIC_EOI;
		memcpy(msg.payload, &e, sizeof(e));
		break;
	}
	case KVM_EXIT_HLT:
	case KVM_EXIT_SHUTDOWN:
	case KVM_EXIT_FAIL_ENTRY: {
		struct mshv_intercept_header h;

		sim_header(vp, &h, &r, &s, 0, 0);
		msg.type = run->exit_reason == KVM_EXIT_HLT ? MSHV_MSG_X64_HALT
		           : run->exit_reason == KVM_EXIT_SHUTDOWN
		               ? MSHV_MSG_UNRECOVERABLE_EXCEPTION
		               : MSHV_MSG_INVALID_VP_REGISTER;
		memcpy(msg.payload, &h, sizeof(h));
		break;
	}
	case KVM_EXIT_INTERNAL_ERROR: {
		/* KVM cannot run code from MMIO; MSHV reports it as an execute intercept. */
		struct mshv_msg_mem m = { 0 };

		/*
		 * An ordinary MMIO access can be refused as "during event delivery" by the KVM
		 * this runs on (see hv-kvm's kvm_vcpu_run()): entering again runs it.  A real
		 * delivery through device memory fails each time and ends the run below.
		 */
		if (run->internal.suberror == KVM_INTERNAL_ERROR_DELIVERY_EV &&
		    vp->vectoring_retries < SIM_VECTORING_RETRIES) {
			vp->vectoring_retries++;
			*deliver = false;
			return 0;
		}
		if (run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION) {
			log_err(
			    "mshv-sim: KVM internal error %u (exit %#llx, GPA %#llx) at RIP %#llx",
			    run->internal.suberror,
			    (unsigned long long)(run->internal.ndata > 1 ? run->internal.data[1]
			                                                 : 0),
			    (unsigned long long)(run->internal.ndata > 3 ? run->internal.data[3]
			                                                 : 0),
			    (unsigned long long)r.rip);
			return -EIO;
		}
		uint64_t gpa = 0;

		sim_header(vp, &m.h, &r, &s, 0, MSHV_ACCESS_EXECUTE);
		if (!sim_translate(vp, sim_la(&s, EMU_SEG_CS, r.rip, 8), &gpa, NULL))
			m.gpa = gpa;
		msg.type = MSHV_MSG_UNMAPPED_GPA;
		memcpy(msg.payload, &m, sizeof(m));
		break;
	}
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		/* An MSR KVM does not know: the partition's UNIMPLEMENTED_MSR_ACTION decides. */
		run->msr.error = vp->sim->msr_action == MSHV_MSR_ACTION_IGNORE_WRITE_READ0 ? 0 : 1;
		if (run->exit_reason == KVM_EXIT_X86_RDMSR)
			run->msr.data = 0;
		*deliver = false;
		return 0;
	default:
		log_err("mshv-sim: KVM exit %u has no MSHV counterpart here", run->exit_reason);
		return -EIO;
	}
	sim_deliver(vp, &msg, out);
	return 0;
}

int sim_run_vp(struct sim_vp *vp, struct mshv_run_vp *out)
{
	struct sim_prep prep;
	int pending = 0, r;

	if ((r = sim_take_page(vp)))
		return r;
	vp->page->isvalid = 0;
	if (vp->pend.active) {
		pending = sim_complete(vp, &prep);
		vp->pend.active = false;
		if (pending < 0)
			return pending;
	}
	for (;;) {
		bool deliver;

		if (pending == 2) {
			sim_present(vp, &prep, out);
			return 0;
		}
		if (!pending) {
			if (ioctl(vp->fd, KVM_RUN, 0) < 0) {
				if (errno == EAGAIN)
					continue;
				return -errno; /* EINTR: a kick, as MSHV_RUN_VP reports it */
			}
			vp->ran = true;
		}
		pending = 0;
		if (vp->run->exit_reason != KVM_EXIT_INTERNAL_ERROR)
			vp->vectoring_retries = 0;
		if (vp->run->exit_reason == KVM_EXIT_MMIO || vp->run->exit_reason == KVM_EXIT_IO) {
			if ((r = sim_prepare(vp, &prep)))
				return r;
			pending = 2;
			continue;
		}
		if (vp->run->exit_reason == KVM_EXIT_INTR)
			return -EINTR;
		if ((r = sim_other_exit(vp, out, &deliver)) || deliver)
			return r;
	}
}

void sim_run_finish(struct sim_vp *vp)
{
	struct sim_prep prep;

	/* The last intercept before the VM stopped: hvmm finished it but never ran on. */
	if (sim_take_page(vp) || !vp->pend.active || !vp->pend.written)
		return;
	vp->finishing = true;
	if (sim_complete(vp, &prep) < 0)
		log_err("mshv-sim: the last intercept of VP %u failed its check", vp->index);
	vp->pend.active = false;
}
