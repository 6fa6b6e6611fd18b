/*
 * The instructions a hypervisor without an in-kernel emulator (MSHV) hands to hvmm's emulator:
 * loads, stores, read-modify-writes, bit tests, string moves and string port I/O against a
 * memory-like MMIO device.  Every arithmetic result and its flags must equal those of the same
 * instruction on RAM.  Interrupts stay off: REP instructions are not interrupted.
 */
#include "guest.h"

#define SCRATCH       0xd0000000ul /* two pages of memory-like MMIO (emu_test.c) */
#define SEQ_PORT      0x720        /* reads count up byte by byte; writes are logged */
#define SEQ_PORT2     0x721
#define ARITH         0x8d5ull /* CF PF AF ZF SF OF */
#define CF            0x1ull
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static uint8_t ram_a[64], ram_b[64];
static uint8_t big[5000];

/*
 * The same instruction on a RAM cell and on MMIO: equal memory results, equal register
 * results (XCHG), equal flags under `mask`.
 */
#define SAME(T, insn, init, src, mask)                                                             \
	do {                                                                                       \
		volatile T *m = (volatile T *)(SCRATCH + 0x100);                                   \
		T r = (T)(init), s1 = (T)(src), s2 = (T)(src);                                     \
		uint64_t rf, mf;                                                                   \
		*m = (T)(init);                                                                    \
		__asm__ volatile(insn "\n\tpushfq\n\tpopq %1"                                      \
		                 : "+m"(r), "=r"(rf), "+r"(s1)::"cc");                             \
		__asm__ volatile(insn "\n\tpushfq\n\tpopq %1"                                      \
		                 : "+m"(*m), "=r"(mf), "+r"(s2)::"cc");                            \
		GUEST_ASSERT(r == *m && s1 == s2);                                                 \
		GUEST_ASSERT((rf & (mask)) == (mf & (mask)));                                      \
	} while (0)

static void loads_and_stores(void)
{
	uint64_t v;
	uint32_t w;

	MMIO8(SCRATCH) = 0x81;
	MMIO16(SCRATCH + 2) = 0x8283;
	MMIO32(SCRATCH + 4) = 0x84858687;
	MMIO64(SCRATCH + 8) = 0x88898a8b8c8d8e8full;
	GUEST_ASSERT(MMIO64(SCRATCH) == 0x8485868782830081ull);
	GUEST_ASSERT(MMIO64(SCRATCH + 8) == 0x88898a8b8c8d8e8full);
	/* Zero and sign extension from MMIO. */
	__asm__ volatile("movzbl (%1), %k0" : "=r"(v) : "r"(SCRATCH));
	GUEST_ASSERT(v == 0x81);
	__asm__ volatile("movsbq (%1), %0" : "=r"(v) : "r"(SCRATCH));
	GUEST_ASSERT(v == 0xffffffffffffff81ull);
	__asm__ volatile("movzwl 2(%1), %k0" : "=r"(v) : "r"(SCRATCH));
	GUEST_ASSERT(v == 0x8283);
	__asm__ volatile("movswq 2(%1), %0" : "=r"(v) : "r"(SCRATCH));
	GUEST_ASSERT(v == 0xffffffffffff8283ull);
	__asm__ volatile("movslq 4(%1), %0" : "=r"(v) : "r"(SCRATCH));
	GUEST_ASSERT(v == 0xffffffff84858687ull);
	/* A 32-bit load zero-extends; a 16-bit one keeps the upper bits. */
	v = ~0ull;
	__asm__ volatile("movl 4(%1), %k0" : "+r"(v) : "r"(SCRATCH));
	GUEST_ASSERT(v == 0x84858687);
	v = ~0ull;
	__asm__ volatile("movw 2(%1), %w0" : "+r"(v) : "r"(SCRATCH));
	GUEST_ASSERT(v == 0xffffffffffff8283ull);
	/* Immediates, the high-byte registers, REX registers, a 32-bit address size. */
	__asm__ volatile("movl $0x12345678, 0x10(%0)" ::"r"(SCRATCH) : "memory");
	GUEST_ASSERT(MMIO32(SCRATCH + 0x10) == 0x12345678);
	__asm__ volatile("movq $-2, 0x18(%0)" ::"r"(SCRATCH) : "memory");
	GUEST_ASSERT(MMIO64(SCRATCH + 0x18) == 0xfffffffffffffffeull);
	__asm__ volatile("movb %%ah, 0x20(%1)" ::"a"(0xabcdu), "r"(SCRATCH) : "memory");
	GUEST_ASSERT(MMIO8(SCRATCH + 0x20) == 0xab);
	__asm__ volatile("movq %0, %%r9\n\tmovb %%r9b, 0x21(%1)" ::"r"((uint64_t)0x5a), "r"(SCRATCH)
	                 : "r9", "memory");
	GUEST_ASSERT(MMIO8(SCRATCH + 0x21) == 0x5a);
	__asm__ volatile("movl (%1), %0" : "=r"(w) : "r"((uint32_t)(SCRATCH + 0x10)));
	GUEST_ASSERT(w == 0x12345678);
	/* A store that spans two MMIO pages. */
	MMIO32(SCRATCH + 0xffe) = 0xa1a2a3a4;
	GUEST_ASSERT(MMIO16(SCRATCH + 0xffe) == 0xa3a4 && MMIO16(SCRATCH + 0x1000) == 0xa1a2);
	GUEST_ASSERT(MMIO32(SCRATCH + 0xffe) == 0xa1a2a3a4);
	/* moffs forms: movabs to and from a 64-bit address. */
	__asm__ volatile("movabsl %%eax, 0xd0000030" ::"a"(0x31323334u) : "memory");
	__asm__ volatile("movabsl 0xd0000030, %%eax" : "=a"(w));
	GUEST_ASSERT(w == 0x31323334);
}

static void fs_override(void)
{
	uint32_t lo = (uint32_t)SCRATCH, hi = 0, v;

	/* FS_BASE = SCRATCH: fs:0x40 is SCRATCH + 0x40. */
	__asm__ volatile("wrmsr" ::"c"(0xc0000100u), "a"(lo), "d"(hi));
	__asm__ volatile("movl %0, %%fs:0x40" ::"r"(0x61626364u) : "memory");
	GUEST_ASSERT(MMIO32(SCRATCH + 0x40) == 0x61626364);
	__asm__ volatile("movl %%fs:0x40, %0" : "=r"(v));
	GUEST_ASSERT(v == 0x61626364);
	__asm__ volatile("wrmsr" ::"c"(0xc0000100u), "a"(0), "d"(0));
}

static void read_modify_write(void)
{
	static const uint64_t vals[] = { 0,
		                         1,
		                         0x7f,
		                         0x80,
		                         0xff,
		                         0x7fffffff,
		                         0x80000000,
		                         0xffffffffffffffffull,
		                         0x123456789abcdef0ull };

	for (unsigned i = 0; i < ARRAY_SIZE(vals); i++) {
		for (unsigned j = 0; j < ARRAY_SIZE(vals); j += 2) {
			uint64_t a = vals[i], b = vals[j];

			SAME(uint8_t, "add %2, %0", a, b, ARITH);
			SAME(uint16_t, "sub %2, %0", a, b, ARITH);
			SAME(uint32_t, "xor %2, %0", a, b, ARITH);
			SAME(uint64_t, "and %2, %0", a, b, ARITH);
			SAME(uint32_t, "or %2, %0", a, b, ARITH);
			SAME(uint64_t, "stc\n\tadc %2, %0", a, b, ARITH);
			SAME(uint16_t, "stc\n\tsbb %2, %0", a, b, ARITH);
			SAME(uint32_t, "cmp %2, %0", a, b, ARITH);
			SAME(uint64_t, "test %2, %0", a, b, ARITH);
			SAME(uint32_t, "xchg %2, %0", a, b, 0);
		}
		SAME(uint32_t, "addl $0x7fffffff, %0", vals[i], 0, ARITH);
		SAME(uint64_t, "subq $-3, %0", vals[i], 0, ARITH);
		SAME(uint8_t, "andb $0x0f, %0", vals[i], 0, ARITH);
		SAME(uint64_t, "incq %0", vals[i], 0, ARITH);
		SAME(uint16_t, "decw %0", vals[i], 0, ARITH);
		SAME(uint32_t, "negl %0", vals[i], 0, ARITH);
		SAME(uint64_t, "notq %0", vals[i], 0, ARITH);
		SAME(uint32_t, "testl $0x80000001, %0", vals[i], 0, ARITH);
		SAME(uint8_t, "cmpb $0x80, %0", vals[i], 0, ARITH);
		/* Bit tests define CF only. */
		SAME(uint32_t, "bt %2, %0", vals[i], i * 3, CF);
		SAME(uint64_t, "bts %2, %0", vals[i], i * 7, CF);
		SAME(uint16_t, "btr %2, %0", vals[i], i, CF);
		SAME(uint32_t, "btcl $5, %0", vals[i], 0, CF);
	}
}

static void string_moves(void)
{
	uint8_t *src, *dst;
	uint64_t n, v;

	for (unsigned i = 0; i < sizeof(ram_a); i++)
		ram_a[i] = (uint8_t)(i * 7 + 1);
	/* RAM to MMIO, forwards. */
	src = ram_a, dst = (uint8_t *)(SCRATCH + 0x200), n = 40;
	__asm__ volatile("cld\n\trep movsb" : "+S"(src), "+D"(dst), "+c"(n)::"memory");
	GUEST_ASSERT(n == 0 && dst == (uint8_t *)(SCRATCH + 0x228));
	/* MMIO to MMIO by quadwords, then MMIO to RAM backwards. */
	src = (uint8_t *)(SCRATCH + 0x200), dst = (uint8_t *)(SCRATCH + 0x300), n = 5;
	__asm__ volatile("cld\n\trep movsq" : "+S"(src), "+D"(dst), "+c"(n)::"memory");
	src = (uint8_t *)(SCRATCH + 0x300 + 39), dst = ram_b + 39, n = 40;
	__asm__ volatile("std\n\trep movsb\n\tcld" : "+S"(src), "+D"(dst), "+c"(n)::"memory");
	for (unsigned i = 0; i < 40; i++)
		GUEST_ASSERT(ram_b[i] == ram_a[i]);
	/* One MOVS without REP, a STOS run and LODS from MMIO. */
	src = ram_a, dst = (uint8_t *)(SCRATCH + 0x400);
	__asm__ volatile("movsl" : "+S"(src), "+D"(dst)::"memory");
	GUEST_ASSERT(MMIO32(SCRATCH + 0x400) == *(uint32_t *)ram_a);
	dst = (uint8_t *)(SCRATCH + 0x500), n = 8;
	__asm__ volatile("rep stosl" : "+D"(dst), "+c"(n) : "a"(0xc3c2c1c0u) : "memory");
	GUEST_ASSERT(MMIO32(SCRATCH + 0x51c) == 0xc3c2c1c0u);
	src = (uint8_t *)(SCRATCH + 0x500);
	__asm__ volatile("lodsq" : "=a"(v), "+S"(src));
	GUEST_ASSERT(v == 0xc3c2c1c0c3c2c1c0ull && src == (uint8_t *)(SCRATCH + 0x508));
	/* REP with zero count does nothing but move on. */
	dst = (uint8_t *)(SCRATCH + 0x500), n = 0;
	__asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(0) : "memory");
	GUEST_ASSERT(MMIO8(SCRATCH + 0x500) == 0xc0);
	/* More elements than the emulator does in one go (EMU_REP_MAX_ITERATIONS). */
	dst = (uint8_t *)(SCRATCH + 0x100), n = 5000;
	__asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(0x5a) : "memory");
	GUEST_ASSERT(n == 0 && MMIO8(SCRATCH + 0x100 + 4999) == 0x5a);
	GUEST_ASSERT(MMIO32(SCRATCH + 0x1000) == 0x5a5a5a5a);
}

static void port_io(void)
{
	uint64_t rax, n;
	uint8_t *p;

	/* IN AL/AX keep the rest of RAX; IN EAX zero-extends. */
	rax = 0x1122334455667788ull;
	__asm__ volatile("inb %%dx, %%al" : "+a"(rax) : "d"(SEQ_PORT2));
	GUEST_ASSERT(rax >> 8 == 0x11223344556677ull);
	rax = 0x1122334455667788ull;
	__asm__ volatile("inw %%dx, %%ax" : "+a"(rax) : "d"(SEQ_PORT2));
	GUEST_ASSERT(rax >> 16 == 0x112233445566ull);
	rax = 0x1122334455667788ull;
	__asm__ volatile("inl %%dx, %%eax" : "+a"(rax) : "d"(SEQ_PORT2));
	GUEST_ASSERT(rax >> 32 == 0);
	__asm__ volatile("inb $0x21, %%al" : "=a"(rax)); /* immediate port (PIC mask: unclaimed) */
	/* OUT of each size, then string output: the host checks the bytes. */
	outb(SEQ_PORT, 0x11);
	outw(SEQ_PORT, 0x3322);
	outl(SEQ_PORT, 0x77665544);
	p = (uint8_t *)"hello, port";
	n = 11;
	__asm__ volatile("cld\n\trep outsb" : "+S"(p), "+c"(n) : "d"(SEQ_PORT) : "memory");
	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i ^ (i >> 8));
	p = big, n = sizeof(big) / 2;
	__asm__ volatile("rep outsw" : "+S"(p), "+c"(n) : "d"(SEQ_PORT) : "memory");
	GUEST_ASSERT(n == 0 && p == big + sizeof(big));
	/* String input into RAM counts up byte by byte, also past 4096 elements. */
	p = ram_b, n = 16;
	__asm__ volatile("rep insb" : "+D"(p), "+c"(n) : "d"(SEQ_PORT) : "memory");
	for (unsigned i = 1; i < 16; i++)
		GUEST_ASSERT((uint8_t)(ram_b[i] - ram_b[i - 1]) == 1);
	p = big, n = sizeof(big) / 4;
	__asm__ volatile("rep insl" : "+D"(p), "+c"(n) : "d"(SEQ_PORT) : "memory");
	for (unsigned i = 1; i < sizeof(big); i++)
		GUEST_ASSERT((uint8_t)(big[i] - big[i - 1]) == 1);
	p = ram_b + 31, n = 4;
	__asm__ volatile("std\n\trep insb\n\tcld" : "+D"(p), "+c"(n) : "d"(SEQ_PORT) : "memory");
	GUEST_ASSERT((uint8_t)(ram_b[28] - ram_b[29]) == 1 && p == ram_b + 27);
}

void guest_main(uint32_t cpu)
{
	(void)cpu;
	irq_disable();
	loads_and_stores();
	fs_override();
	read_modify_write();
	string_moves();
	port_io();
	guest_report(1, 1);
}
