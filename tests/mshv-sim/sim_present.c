/* SPDX-License-Identifier: MIT */
/*
 * mshv-sim: turning a KVM I/O exit into the intercept MSHV would deliver.
 *
 * Measured on this machine's KVM (and the same in upstream KVM): a read (MMIO load, IN, INS)
 * exits before the instruction has changed anything, RIP on it; a write exits after its
 * registers were written back, RIP past a plain store, RIP still on a string instruction
 * (STOS, MOVS, OUTS) with that element's RSI/RDI/RCX update done.  (Upstream leaves RIP on a
 * non-string OUT; this machine's KVM moves it past.)  MSHV shows the state before the
 * instruction, so for a write the simulator finds the instruction (at RIP for a string one,
 * else by decoding the bytes that end at RIP, checked against the address and data written)
 * and undoes its register side effects.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "tests/mshv-sim/sim.h"

#define X86_EFER_LMA (1ull << 10)

/* ---- helpers ---- */

uint64_t sim_amask(unsigned as)
{
	return as >= 8 ? ~0ull : (1ull << (8 * as)) - 1;
}

/* reg += delta in an address size: 16 bits keep the upper bits, 32 bits zero-extend. */
static void sim_reg_add(__u64 *reg, int64_t delta, unsigned as)
{
	uint64_t m = sim_amask(as), v = (*reg + (uint64_t)delta) & m;

	*reg = as == 2 ? (*reg & ~m) | v : v;
}

static uint64_t sim_seg_base(const struct kvm_sregs *s, unsigned seg)
{
	const struct kvm_segment *t[6] = { &s->es, &s->cs, &s->ss, &s->ds, &s->fs, &s->gs };

	if (sim_mode(s) == EMU_MODE_LONG64 && seg != EMU_SEG_FS && seg != EMU_SEG_GS)
		return 0;
	return t[seg % 6]->base;
}

uint64_t sim_la(const struct kvm_sregs *s, unsigned seg, uint64_t off, unsigned as)
{
	uint64_t la = sim_seg_base(s, seg) + (off & sim_amask(as));

	return sim_mode(s) == EMU_MODE_LONG64 ? la : la & 0xffffffffull;
}

bool sim_string_op(enum emu_op op)
{
	return op == EMU_OP_MOVS || op == EMU_OP_STOS || op == EMU_OP_LODS || op == EMU_OP_INS ||
	       op == EMU_OP_OUTS;
}

static bool sim_decode_at(struct sim_vp *vp, const struct kvm_sregs *s, uint64_t rip,
                          struct sim_insn *in)
{
	memset(in, 0, sizeof(*in));
	in->rip = rip;
	in->nbytes = sim_read_linear(vp, sim_la(s, EMU_SEG_CS, rip, 8), in->bytes, 16);
	in->decoded = in->nbytes && !emu_decode(in->bytes, in->nbytes, sim_mode(s), &in->d);
	return in->decoded;
}

/* The guest-physical address of the decoded instruction's memory operand, or false. */
static bool sim_operand_gpa(struct sim_vp *vp, const struct sim_insn *in, struct kvm_regs *q,
                            const struct kvm_sregs *s, uint64_t *gpa)
{
	const struct emu_insn *d = &in->d;
	uint64_t ea = d->disp;

	if (!d->mem)
		return false;
	if (d->base == EMU_REG_RIP)
		ea += in->rip + d->len;
	else if (d->base >= 0)
		ea += *sim_gpr(q, (unsigned)d->base);
	if (d->index >= 0)
		ea += *sim_gpr(q, (unsigned)d->index) * d->scale;
	return !sim_translate(vp, sim_la(s, d->seg, ea, d->addr_size), gpa, NULL);
}

/* A string store at RIP whose element just written is this access: RIP did not move. */
/*
 * An access of `size` bytes at `gpa` is all of an operand of op_size bytes there, or its first
 * piece: KVM splits an access at a page boundary and exits for each piece.
 */
static bool sim_piece_ok(uint64_t gpa, unsigned size, unsigned op_size)
{
	return size == op_size || (size < op_size && size == 4096 - (gpa & 0xfff));
}

/* A string store at RIP whose element just written is this access: RIP did not move. */
static bool sim_string_write_at(struct sim_vp *vp, const struct sim_insn *in,
                                const struct sim_io *io, struct kvm_regs *q,
                                const struct kvm_sregs *s)
{
	const struct emu_insn *d = &in->d;
	int64_t step = (q->rflags & EMU_FLAG_DF) ? -(int64_t)d->op_size : (int64_t)d->op_size;
	uint64_t gpa, want = 0, src = 0;

	if (!in->decoded)
		return false;
	memcpy(&want, &io->data, io->size);
	if (io->mmio) {
		if ((d->op != EMU_OP_STOS && d->op != EMU_OP_MOVS) ||
		    !sim_piece_ok(io->addr, io->size, d->op_size))
			return false;
		if (sim_translate(vp, sim_la(s, EMU_SEG_ES, q->rdi - (uint64_t)step, d->addr_size),
		                  &gpa, NULL) ||
		    gpa != io->addr)
			return false;
		if (d->op == EMU_OP_STOS)
			return (q->rax & sim_amask(io->size)) == want;
	} else if (d->op != EMU_OP_OUTS || d->op_size != io->size ||
	           (q->rdx & 0xffff) != io->addr) {
		return false;
	} else if (io->count > 1) {
		return true; /* a batch: KVM shows the state before it */
	}
	/* MOVS and OUTS: the element came from the source operand just passed. */
	if (sim_read_linear(vp, sim_la(s, d->seg, q->rsi - (uint64_t)step, d->addr_size), &src,
	                    io->size) != io->size)
		return true; /* source not in RAM: nothing more to check */
	return src == want;
}

/* A plain store (MOV to memory, OUT) that ends exactly at RIP: RIP already moved past it. */
static bool sim_store_before(struct sim_vp *vp, const struct sim_io *io, struct kvm_regs *q,
                             const struct kvm_sregs *s, struct sim_insn *out)
{
	uint8_t buf[EMU_MAX_INSN_LEN];
	uint64_t end = sim_la(s, EMU_SEG_CS, q->rip, 8), want = 0;
	unsigned off = 0;

	if (sim_read_linear(vp, end - sizeof(buf), buf, sizeof(buf)) != sizeof(buf)) {
		/* The bytes before cross into a page that is not RAM: use this page only. */
		unsigned k = (unsigned)(end & 0xfff) < sizeof(buf) ? (unsigned)(end & 0xfff)
		                                                   : (unsigned)sizeof(buf);

		off = (unsigned)sizeof(buf) - k;
		if (!k || sim_read_linear(vp, end - k, buf + off, k) != k)
			return false;
	}
	memcpy(&want, &io->data, io->size);
	/* Shortest first: a longer match only adds prefixes that change nothing here. */
	for (unsigned len = 1; len <= sizeof(buf) - off; len++) {
		struct emu_insn d;
		uint64_t gpa;

		if (emu_decode(buf + sizeof(buf) - len, len, sim_mode(s), &d) || d.len != len)
			continue;
		memset(out, 0, sizeof(*out));
		out->rip = q->rip - len;
		out->nbytes = len;
		memcpy(out->bytes, buf + sizeof(buf) - len, len);
		out->decoded = true;
		out->d = d;
		/* A string store without REP also completes before the exit. */
		if ((d.op == EMU_OP_STOS || d.op == EMU_OP_MOVS || d.op == EMU_OP_OUTS) && !d.rep) {
			if (sim_string_write_at(vp, out, io, q, s))
				return true;
			continue;
		}
		if (io->mmio) {
			uint64_t m = sim_amask(io->size), v;

			/* What the store would write: the data tells REX.R and the like apart. */
			if (d.op == EMU_OP_MOV && (d.opcode & ~1u) == 0x88)
				v = io->size == 1 && !d.rex && d.reg >= 4 && d.reg < 8
				        ? *sim_gpr(q, d.reg - 4u) >> 8 /* AH, CH, DH, BH */
				        : *sim_gpr(q, d.reg);
			else if (d.op == EMU_OP_MOV_MOFFS && (d.opcode & ~1u) == 0xa2)
				v = q->rax;
			else if (d.op == EMU_OP_MOV_IMM)
				v = d.imm;
			else
				continue;
			if ((v & m) == want && sim_piece_ok(io->addr, io->size, d.op_size) &&
			    sim_operand_gpa(vp, out, q, s, &gpa) && gpa == io->addr)
				return true;
		} else if (d.op == EMU_OP_OUT && d.op_size == io->size &&
		           (q->rax & sim_amask(io->size)) == want &&
		           ((d.opcode & ~1u) == 0xe6 ? d.imm : (q->rdx & 0xffff)) == io->addr) {
			return true;
		}
	}
	return false;
}

/* Is the decoded instruction an OUT (not OUTS) that makes exactly port access io? */
static bool sim_out_is(const struct sim_insn *in, const struct sim_io *io, const struct kvm_regs *q)
{
	const struct emu_insn *d = &in->d;
	uint64_t want = 0;

	if (!in->decoded || d->op != EMU_OP_OUT || d->op_size != io->size || io->count != 1)
		return false;
	memcpy(&want, &io->data, io->size);
	return (q->rax & sim_amask(io->size)) == want &&
	       ((d->opcode & ~1u) == 0xe6 ? d->imm : (q->rdx & 0xffff)) == io->addr;
}

/* Which instruction the current exit belongs to, and the state before it (MSHV's view). */
static int sim_find(struct sim_vp *vp, const struct sim_io *io, struct kvm_regs *q,
                    const struct kvm_sregs *s, struct sim_insn *in, struct kvm_regs *pre)
{
	struct sim_insn at;

	*pre = *q;
	sim_decode_at(vp, s, q->rip, &at);
	if (!io->write) {
		*in = at;
		/* Port I/O needs the length; MMIO bytes hvmm cannot decode fail there, loudly. */
		if (!io->mmio && (!at.decoded || (at.d.op != EMU_OP_IN && at.d.op != EMU_OP_INS)))
			goto fail;
		return 0;
	}
	if (sim_string_write_at(vp, &at, io, q, s)) {
		*in = at; /* REP in progress: RIP stays on it */
	} else if (!io->mmio && sim_out_is(&at, io, q)) {
		struct sim_insn before;

		/*
		 * An OUT at RIP that writes this access.  Two OUTs in a row that write the same
		 * port and value read both ways: the one at RIP not yet done, or the one before
		 * it done.  This KVM's habit, learned from an unambiguous OUT, decides.
		 */
		bool both = sim_store_before(vp, io, q, s, &before) && before.d.op == EMU_OP_OUT;

		if (both && vp->out_rip == SIM_OUT_PAST) {
			*in = before;
			pre->rip = in->rip;
		} else {
			if (!both)
				vp->out_rip = SIM_OUT_AT;
			*in = at;
			return 0;
		}
	} else if (sim_store_before(vp, io, q, s, in)) {
		pre->rip = in->rip;
		if (!io->mmio && in->d.op == EMU_OP_OUT)
			vp->out_rip = SIM_OUT_PAST;
	} else if (!io->mmio && at.decoded && at.d.op == EMU_OP_OUT) {
		*in = at; /* an OUT at RIP whose data differs: reported by the cross-check */
		return 0;
	} else {
		goto fail;
	}
	if (sim_string_op(in->d.op) && io->count == 1) {
		/* Undo this element's pointer and count updates. */
		int64_t step =
		    (q->rflags & EMU_FLAG_DF) ? -(int64_t)in->d.op_size : (int64_t)in->d.op_size;
		unsigned as = in->d.addr_size;

		if (in->d.op != EMU_OP_OUTS)
			sim_reg_add(&pre->rdi, -step, as);
		if (in->d.op != EMU_OP_STOS)
			sim_reg_add(&pre->rsi, -step, as);
		if (in->d.rep)
			sim_reg_add(&pre->rcx, 1, as);
	}
	return 0;
fail:
	log_err("mshv-sim: cannot tell which instruction made the %s %s of %u bytes at %#llx "
	        "(rip %#llx)",
	        io->mmio ? "MMIO" : "port", io->write ? "write" : "read", io->size,
	        (unsigned long long)io->addr, (unsigned long long)q->rip);
	return -EIO;
}

void sim_fill_page(struct sim_vp *vp, const struct kvm_regs *r, const struct kvm_sregs *s)
{
	struct mshv_reg_page *p = vp->page;
	struct kvm_regs c = *r;

	for (unsigned i = 0; i < 16; i++)
		p->gpr[i] = *sim_gpr(&c, i);
	p->rip = r->rip;
	p->rflags = r->rflags;
	sim_seg_to_hv(&p->seg[EMU_SEG_ES], &s->es);
	sim_seg_to_hv(&p->seg[EMU_SEG_CS], &s->cs);
	sim_seg_to_hv(&p->seg[EMU_SEG_SS], &s->ss);
	sim_seg_to_hv(&p->seg[EMU_SEG_DS], &s->ds);
	sim_seg_to_hv(&p->seg[EMU_SEG_FS], &s->fs);
	sim_seg_to_hv(&p->seg[EMU_SEG_GS], &s->gs);
	p->cr0 = s->cr0;
	p->cr3 = s->cr3;
	p->cr4 = s->cr4;
	p->cr8 = s->cr8;
	p->efer = s->efer;
	p->version = 1;
	p->dirty = 0;
	p->isvalid = 1;
}

void sim_header(struct sim_vp *vp, struct mshv_intercept_header *h, const struct kvm_regs *r,
                const struct kvm_sregs *s, unsigned insn_len, uint8_t access)
{
	*h = (struct mshv_intercept_header){
		.vp_index = vp->index,
		.insn_len_cr8 = (uint8_t)(insn_len & 0xf),
		.access_type = access,
		.exec_state = (uint16_t)((s->cs.dpl & 3) | ((s->cr0 & 1) ? MSHV_EXEC_CR0_PE : 0) |
		                         ((s->efer & X86_EFER_LMA) ? MSHV_EXEC_EFER_LMA : 0)),
		.rip = r->rip,
		.rflags = r->rflags,
	};
	sim_seg_to_hv(&h->cs, &s->cs);
}

void sim_io_of(const struct kvm_run *run, struct sim_io *io)
{
	memset(io, 0, sizeof(*io));
	if (run->exit_reason == KVM_EXIT_MMIO) {
		io->mmio = true;
		io->write = run->mmio.is_write;
		io->addr = run->mmio.phys_addr;
		io->size = run->mmio.len;
		io->count = 1;
		memcpy(&io->data, run->mmio.data, io->size < 8 ? io->size : 8);
	} else {
		io->write = run->io.direction == KVM_EXIT_IO_OUT;
		io->addr = run->io.port;
		io->size = run->io.size;
		io->count = run->io.count;
		memcpy(&io->data, (const uint8_t *)run + run->io.data_offset, io->size);
	}
}

/* Turn the I/O exit in vp->run into the intercept MSHV would deliver. */
int sim_prepare(struct sim_vp *vp, struct sim_prep *p)
{
	struct kvm_regs q;
	struct sim_io io;
	int r;

	if (ioctl(vp->fd, KVM_GET_REGS, &q) < 0 || ioctl(vp->fd, KVM_GET_SREGS, &p->sregs) < 0)
		return -errno;
	sim_io_of(vp->run, &io);
	if ((r = sim_find(vp, &io, &q, &p->sregs, &p->insn, &p->pre)))
		return r;
	memset(&p->msg, 0, sizeof(p->msg));
	if (io.mmio) {
		struct mshv_msg_mem m = { .insn_count = (uint8_t)p->insn.nbytes, .gpa = io.addr };
		uint8_t flags = 0;
		bool ram = sim_ram_ptr(vp->sim, io.addr, io.size, &flags) != NULL;

		/* No instruction length and no GVA: KVM gives neither. */
		sim_header(vp, &m.h, &p->pre, &p->sregs, 0,
		           io.write ? MSHV_ACCESS_WRITE : MSHV_ACCESS_READ);
		m.cache_type = ram ? 6 : 0; /* write-back RAM mapped read-only, or uncached */
		memcpy(m.insn, p->insn.bytes, p->insn.nbytes);
		p->msg.type = ram ? MSHV_MSG_GPA_INTERCEPT : MSHV_MSG_UNMAPPED_GPA;
		p->msg.payload_size = sizeof(m);
		memcpy(p->msg.payload, &m, sizeof(m));
	} else {
		struct mshv_msg_io m = {
			.port = (uint16_t)io.addr,
			.access_info =
			    (uint8_t)(io.size | (sim_string_op(p->insn.d.op) ? MSHV_IO_STRING : 0) |
			              (p->insn.d.rep ? MSHV_IO_REP : 0)),
			.insn_count = (uint8_t)p->insn.nbytes,
			.rax = p->pre.rax,
			.rcx = p->pre.rcx,
			.rsi = p->pre.rsi,
			.rdi = p->pre.rdi,
		};

		sim_header(vp, &m.h, &p->pre, &p->sregs, p->insn.d.len,
		           io.write ? MSHV_ACCESS_WRITE : MSHV_ACCESS_READ);
		memcpy(m.insn, p->insn.bytes, p->insn.nbytes);
		sim_seg_to_hv(&m.ds, &p->sregs.ds);
		sim_seg_to_hv(&m.es, &p->sregs.es);
		p->msg.type = MSHV_MSG_X64_IO_PORT;
		p->msg.payload_size = sizeof(m);
		memcpy(p->msg.payload, &m, sizeof(m));
	}
	return 0;
}

void sim_deliver(struct sim_vp *vp, const struct mshv_msg *msg, struct mshv_run_vp *out)
{
	memcpy(out->msg_buf, msg, sizeof(*msg));
	memcpy(vp->msg_page, msg, sizeof(*msg));
}

void sim_present(struct sim_vp *vp, const struct sim_prep *p, struct mshv_run_vp *out)
{
	sim_fill_page(vp, &p->pre, &p->sregs);
	vp->pend = (struct sim_pending){
		.active = true,
		.pre = p->pre,
		.shadow = p->pre,
		.sregs = p->sregs,
		.insn = p->insn,
	};
	vp->rec->n = 0;
	vp->rec->overflow = false;
	sim_stat_add(&sim_stats()->intercepts, 1);
	sim_deliver(vp, &p->msg, out);
}
