#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed inputs of tests/fuzz/corpus/NAME/seed-*: small, valid inputs in each
target's input format (see the comment at the top of tests/fuzz/fuzz_NAME.c), so fuzzing
starts from what a guest, a host or a user really does.  Run from the repository root:
    python3 tests/fuzz/mkseeds.py
Crash inputs kept as regression tests (crash-*) are not touched."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- pci_config: 13-byte records (flags, bus, devfn, offset, value) ----
ECAM, CF8, RAW, BAR = 0, 1, 2, 3
SIZE = {1: 0, 2: 1, 4: 2, 8: 3}
# Slots as the target creates them: port "a" (00:01.0), its own port "rp0" for the second
# test device (00:02.0), port "empty" (00:03.0).
PORT_A, PORT_RP0, PORT_EMPTY = 0x08, 0x10, 0x18
# The test device's capabilities: PCI Express at 0x40, MSI at 0x7c, MSI-X at 0x94.
PCIE_CAP = 0x40


def rec(path, size, bus, devfn, off, val=0, write=False):
    flags = path | (4 if write else 0) | SIZE[size] << 3
    return struct.pack("<BBBHQ", flags, bus, devfn, off, val)


def cfg_w(bus, devfn, off, size, val, path=ECAM):
    return rec(path, size, bus, devfn, off, val, True)


def cfg_r(bus, devfn, off, size, path=ECAM):
    return rec(path, size, bus, devfn, off)


def bridge(devfn, sec, mem=None, pref=None, io=None):
    """Firmware's programming of a root port: bus numbers, windows, decoding."""
    s = cfg_w(0, devfn, 0x18, 4, sec << 16 | sec << 8)
    if mem:
        s += cfg_w(0, devfn, 0x20, 4, (mem[1] >> 16 & 0xfff0) << 16 | (mem[0] >> 16 & 0xfff0))
    if pref:
        s += cfg_w(0, devfn, 0x24, 4, (pref[1] >> 16 & 0xfff0) << 16 | (pref[0] >> 16 & 0xfff0))
        s += cfg_w(0, devfn, 0x28, 4, pref[0] >> 32)
        s += cfg_w(0, devfn, 0x2c, 4, pref[1] >> 32)
    if io:
        s += cfg_w(0, devfn, 0x1c, 2, (io[1] >> 8 & 0xf0) << 8 | (io[0] >> 8 & 0xf0))
    return s + cfg_w(0, devfn, 0x04, 2, 0x7)


def testdev(bus, bar0, bar2=None, rom=None):
    """Size BAR0 like Linux does, then place the BARs and turn decoding on."""
    s = cfg_w(bus, 0, 0x10, 4, 0xFFFFFFFF) + cfg_r(bus, 0, 0x10, 4)
    s += cfg_w(bus, 0, 0x10, 4, bar0 & 0xFFFFFFFF) + cfg_w(bus, 0, 0x14, 4, bar0 >> 32)
    if bar2:
        s += cfg_w(bus, 0, 0x18, 4, bar2 | 1)
    if rom:
        s += cfg_w(bus, 0, 0x30, 4, rom | 1)
    return s + cfg_w(bus, 0, 0x04, 2, 0x7)


def bar_rw(window64, off, size, val=None, devfn=0):
    return rec(BAR, size, 1 if window64 else 0, devfn, off, val or 0, val is not None)


def io_rw(port, size, val=None):
    return rec(BAR, size, 2, 0, port, val or 0, val is not None)


enum = b"".join(cfg_r(0, df, 0, 4) + cfg_r(0, df, 0x0e, 1) for df in (0, PORT_A, PORT_RP0, PORT_EMPTY))
enum += b"".join(cfg_r(0, df, 0, 4, CF8) for df in (0, PORT_A, 0x20))
write("pci_config", "enumerate", enum)

setup_a = bridge(PORT_A, 1, mem=(0xC0000000, 0xC0FFFFFF), io=(0x1000, 0x1FFF))
setup_a += testdev(1, 0xC0000000, bar2=0x1000, rom=0xC0100000)
write("pci_config", "bars", setup_a + bar_rw(False, 0, 4) + bar_rw(False, 8, 8, 0x1122334455667788)
      + io_rw(0x1000, 4) + io_rw(0x1004, 4, 0xabcd) + bar_rw(False, 0x0000, 2, devfn=0x10))
write("pci_config", "move", setup_a + cfg_w(1, 0, 0x04, 2, 0) + cfg_w(1, 0, 0x10, 4, 0xC0200000)
      + cfg_w(1, 0, 0x04, 2, 2) + bar_rw(False, 0, 4, devfn=0x20)
      + cfg_w(0, PORT_A, 0x20, 4, 0xC000C000) + cfg_w(1, 0, 0x10, 4, 0xE0000000)
      + cfg_w(1, 0, 0x10, 4, 0xFEC00000) + cfg_w(1, 0, 0x10, 4, 0x00100000))
setup_b = bridge(PORT_RP0, 2, pref=(0x1000000000, 0x10FFFFFFFF))
write("pci_config", "pref64", setup_b + testdev(2, 0x1000000000) + bar_rw(True, 0, 4)
      + setup_a + cfg_w(2, 0, 0x10, 4, 0xC0000000) + cfg_w(2, 0, 0x14, 4, 0))
write("pci_config", "resets", setup_a + cfg_w(1, 0, PCIE_CAP + 8, 2, 0x8000) + cfg_r(1, 0, 0x04, 2)
      + testdev(1, 0xC0000000) + cfg_w(0, PORT_A, 0x3e, 2, 0x40) + cfg_w(0, PORT_A, 0x3e, 2, 0)
      + cfg_r(1, 0, 0x10, 4))
write("pci_config", "conf1", rec(RAW, 4, 0, 0, 0, 0x80000800, True) + rec(RAW, 1, 0, 0, 4)
      + rec(RAW, 2, 0, 0, 6) + rec(RAW, 1, 0, 0, 1, 0x02, True) + rec(RAW, 1, 0, 0, 1)
      + rec(RAW, 2, 0, 0, 0) + cfg_r(0, PORT_A, 0x18, 4, CF8) + rec(RAW, 1, 0, 0, 1, 0x06, True))

# ---- msix: 12-byte records (op, sel, offset, value) ----
def m(op, sel=0, off=0, val=0):
    return struct.pack("<BBHQ", op, sel, off, val)


def table_w(off, val, size=4):
    return m(0, 0x10 | 0x08 | (size - 1), off, val)


def table_r(off, size=8):
    return m(0, 0x10 | (size - 1), off)


def cap_w(op, off, size, val):
    return m(op, {1: 0, 2: 1, 4: 2}[size] | 4, off, val)


def entry(i, data, masked=False):
    return (table_w(16 * i, 0xFEE00000) + table_w(16 * i + 4, 0) + table_w(16 * i + 8, data)
            + table_w(16 * i + 12, 1 if masked else 0))


pba = m(0, 0x20 | 7, 0)
write("msix", "msix-live", cap_w(1, 2, 2, 0x8000) + entry(0, 0x41) + entry(3, 0x44)
      + m(4, 0, 0) + m(4, 1, 3) + pba + table_r(0) + table_r(40, 8) + m(0, 0x08 | 7, 0x10, 2))
write("msix", "msi", cap_w(2, 4, 4, 0xFEE00000) + cap_w(2, 8, 4, 0) + cap_w(2, 12, 2, 0x51)
      + cap_w(2, 2, 2, 1) + m(4, 0, 0) + cap_w(2, 16, 4, 1) + m(4, 0, 0) + m(3, 2, 0x7c + 20 - 0x40)
      + cap_w(2, 16, 4, 0) + m(5, 1, 0) + m(6))
write("msix", "maskall-pending", cap_w(1, 2, 2, 0xC000) + entry(1, 0x42) + entry(2, 0x43)
      + m(4, 1, 1) + m(5, 2, 2) + pba + cap_w(1, 2, 2, 0x8000) + pba)
write("msix", "resets", cap_w(1, 2, 2, 0x8000) + entry(0, 0x41) + m(7, 0, 0, 0)
      + table_r(0) + m(7, 0, 0, 6) + m(8, 0, 0, 0) + table_r(12, 4) + cap_w(1, 2, 2, 0x8000)
      + entry(2, 0x60) + m(9) + pba)

# ---- x86_emu: config, flags, fail_at, code, length, bytes, then u64 registers ----
LONG64, PROT32, PROT16, REAL16 = 3, 2, 1, 0
TRANSLATE, PIO, HINT_GPA, HINT_GVA, HINT = 8, 0x10, 0x20, 0x40, 0x80


def emu(mode, insn, regs=None, cfg=0, flags=3, fail_at=0, code=0, rip=0x1000, rflags=2,
        segs=(0,) * 6, hint=(0, 0), key=0):
    r = [0] * 16
    for k, v in (regs or {}).items():
        r[k] = v
    head = struct.pack("<BBBBB", mode | cfg, flags, fail_at, code, len(insn)) + bytes(insn)
    return head + struct.pack("<27Q", *r, rip, rflags, *segs, *hint, key)


RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = range(8)
MMIO = 0xD0000000
write("x86_emu", "mov-store64", emu(LONG64, [0x48, 0x89, 0x08], {RAX: MMIO, RCX: 0x1122334455667788}))
write("x86_emu", "mov-load-rip", emu(LONG64, [0x8B, 0x05, 0x00, 0x10, 0x00, 0x00], cfg=TRANSLATE,
                                      key=0x7000))
write("x86_emu", "rep-movsb", emu(LONG64, [0xF3, 0xA4], {RCX: 40, RSI: 0x100, RDI: MMIO + 0xFF0}))
write("x86_emu", "rep-outsw", emu(PROT32, [0xF3, 0x66, 0x6F], {RCX: 3, RSI: 0x200, RDX: 0x3F8},
                                  cfg=PIO))
write("x86_emu", "in-out", emu(REAL16, [0xE4, 0x60], cfg=PIO))
write("x86_emu", "moffs32", emu(PROT32, [0xA3, 0x00, 0x00, 0x00, 0xD0], {RAX: 0xCAFE},
                                segs=(0, 0, 0, 0x1000, 0, 0)))
write("x86_emu", "real16-imm", emu(REAL16, [0xC7, 0x07, 0x34, 0x12], {RBX: 0xFFFF},
                                   segs=(0, 0, 0, 0xD000 << 4, 0, 0)))
write("x86_emu", "split-page", emu(LONG64, [0x48, 0x01, 0x08], {RAX: 0xFFD, RCX: 1}, cfg=HINT | HINT_GPA,
                                   hint=(0xFFD, 0)))
write("x86_emu", "bts-fail", emu(LONG64, [0xF0, 0x0F, 0xAB, 0x08], {RAX: MMIO, RCX: 100}, fail_at=2,
                                 code=1))
write("x86_emu", "ud2", emu(LONG64, [0x0F, 0x0B]))

# ---- elf: layout byte, then the file ----
def elf(segs, entry):
    """An ELF64 x86-64 executable; segs: (paddr, data, memsz, flags)."""
    phoff, phsz = 64, 56
    off = phoff + phsz * len(segs)
    ph, body = b"", b""
    for paddr, data, memsz, fl in segs:
        ph += struct.pack("<IIQQQQQQ", 1, fl, off + len(body), paddr, paddr, len(data), memsz, 0x1000)
        body += data
    eh = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    eh += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, phoff, 0, 0, 64, phsz, len(segs), 0, 0, 0)
    return eh + ph + body


code = bytes([0xF4, 0xEB, 0xFD])
write("elf", "one-segment", b"\0" + elf([(0x100000, code, 0x1000, 5)], 0x100000))
write("elf", "two-segments", b"\0" + elf([(0x100000, code, 0x100, 5), (0x101000, b"data", 0x800, 6)], 0x100000))
write("elf", "high-ram", b"\1" + elf([(0x100000, code, 0x10, 5), (0x100000000, b"hi", 0x2000, 6)], 0x100002))

# ---- bzimage: flags, command line length and bytes, initrd length, RSDP, image ----
def bzimage(setup_sects=1, kernel_len=0x400, pref=0x100000, init_size=0x20000, reloc=False,
            align=0x200000, version=0x020F, xlf=0x7F):
    img = bytearray((setup_sects + 1) * 512 + kernel_len)
    img[0x1F1] = setup_sects
    struct.pack_into("<I", img, 0x1F4, kernel_len // 16)
    struct.pack_into("<H", img, 0x1FE, 0xAA55)
    img[0x200:0x202] = bytes([0xEB, 0x6A])  # the header ends at 0x26c
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, version)
    img[0x211] = 0x01
    struct.pack_into("<I", img, 0x22C, 0x7FFFFFFF)
    struct.pack_into("<I", img, 0x230, align)
    img[0x234] = 1 if reloc else 0
    struct.pack_into("<H", img, 0x236, xlf)
    struct.pack_into("<I", img, 0x238, 255)
    struct.pack_into("<Q", img, 0x258, pref)
    struct.pack_into("<I", img, 0x260, init_size)
    for i in range(kernel_len):
        img[(setup_sects + 1) * 512 + i] = (i * 7 + 1) & 0xFF
    return bytes(img)


def bz(img, cmdline=b"console=ttyS0", initrd=0, rsdp=0xE0000, flags=0):
    return struct.pack("<BB", flags, len(cmdline)) + cmdline + struct.pack("<IQ", initrd, rsdp) + img


write("bzimage", "plain", bz(bzimage()))
write("bzimage", "initrd", bz(bzimage(), initrd=0x3000, flags=1))
write("bzimage", "relocatable", bz(bzimage(reloc=True, align=0x100000, pref=0x100000), cmdline=b"root=/dev/vda quiet"))
write("bzimage", "too-big", bz(bzimage(reloc=True), initrd=0x100000))
write("bzimage", "old-protocol", bz(bzimage(version=0x0209)))

# ---- cli: error buffer size, then NUL-separated arguments ----
def cli(*args, errsize=3):
    return bytes([errsize]) + b"\0".join(a.encode() for a in args)


write("cli", "basic", cli("--kernel", "guest.elf", "--memory", "512M", "--cpus", "4"))
write("cli", "vfio-ports", cli("--pcie-root-port", "rp", "--vfio", "rp:0000:01:00.0", "--vfio",
                              "02:00.0", "--kernel=bzImage"))
write("cli", "serial-verbose", cli("--serial", "file:/tmp/com1", "-v", "-v", "-q", "--kernel", "k",
                                  "--initrd", "initrd.img", "--cmdline", "console=ttyS0 quiet"))
write("cli", "help", cli("--help", "--version", "-h"))
write("cli", "hypervisor", cli("--hypervisor=mshv", "--seccomp", "log", "--memory=1G", "--kernel", "k"))
write("cli", "bad-size", cli("--memory", "3T", "--kernel", "k", errsize=1))
write("cli", "vfio-domain", cli("--vfio", "abcd:01:00.0", "--kernel", "k", errsize=2))
write("cli", "vfio-no-port", cli("--vfio", "rp0:01:00.0", "--kernel", "k", errsize=0))

# ---- vfio_config: host description, [raw config], patches, then 10-byte operations ----
def vf(ops, flags=0, bars=(0,) * 6, nommap=0, msix=64, sparse=(), raw=None, patches=()):
    s = struct.pack("<B6BBBB", flags | (1 if raw else 0), *bars, nommap, msix, len(sparse))
    for off, size in sparse:
        s += struct.pack("<HH", off, size)
    if raw:
        s += raw.ljust(256, b"\0")
    s += bytes([len(patches)]) + b"".join(struct.pack("<HB", o, v) for o, v in patches)
    return s + b"".join(ops)


def op(kind, sel=0, off=0, val=0):
    return struct.pack("<BBHIH", kind, sel, off, val, 0)


def vrd(off, size=4):
    return op(0, {1: 0, 2: 1, 4: 2}[size], off)


def vwr(off, size, val):
    return op(1, {1: 0, 2: 1, 4: 2}[size], off, val)


def bar_w(off, val, size=4):
    return op(4, 0x08 | (size - 1), off, val)


ENABLE = op(3)
msix_entry = lambda i, data, mask=0: (bar_w(0x2000 + 16 * i, 0xFEE00000) + bar_w(0x2000 + 16 * i + 8, data)
                                       + bar_w(0x2000 + 16 * i + 12, mask))
write("vfio_config", "nvme-msix", vf([vrd(0), vrd(8), vwr(0x10, 4, 0xFFFFFFFF), vrd(0x10), ENABLE,
                                       vwr(0x42, 2, 0x8040), msix_entry(3, 0x43), msix_entry(10, 0x4A),
                                       op(4, 7, 0x3000), op(4, 7, 0x3800), vwr(0x42, 2, 0x0040),
                                       vrd(0x80), vwr(0x80, 1, 0x5A)]))


def raw_cfg(caps, status_caplist=True, header=0):
    c = bytearray(256)
    c[0:4] = bytes([0x86, 0x80, 0x34, 0x12])
    c[0x0B] = 0x02
    c[0x0E] = header
    c[0x10] = 0x04
    if status_caplist:
        c[0x06] = 0x10
    c[0x34] = caps[0][0] if caps else 0
    for i, (off, body) in enumerate(caps):
        c[off:off + len(body)] = body
        c[off + 1] = caps[i + 1][0] if i + 1 < len(caps) else 0
    return bytes(c)


msi32 = bytes([0x05, 0, 0x8A, 0x01]) + bytes(20)  # 64-bit, maskable, 32 vectors
pm = bytes([0x01, 0, 0x03, 0x00, 0x08, 0x00])
write("vfio_config", "msi-pm", vf([ENABLE, vrd(0x50), vwr(0x54, 4, 0xFEE00000), vwr(0x5C, 2, 0x61),
                                    vwr(0x52, 2, 0x0051), vwr(0x60, 4, 0xFFFFFFFE), vrd(0x64),
                                    vwr(0x60, 4, 0)],
                                   raw=raw_cfg([(0x40, pm), (0x50, msi32)])))
loop = raw_cfg([(0x40, pm), (0x48, bytes([0x11, 0, 0xFF, 0x07, 0x02, 0, 0, 0, 0x02, 0x10, 0, 0]))])
loop = loop[:0x49] + bytes([0x40]) + loop[0x4A:]  # MSI-X links back to PM: a cycle
write("vfio_config", "cap-cycle", vf([vrd(0x34, 1), vrd(0x48), vwr(0x4A, 2, 0xC7FF), ENABLE],
                                      raw=loop, bars=(14, 0, 0, 0, 0, 0)))
write("vfio_config", "ext-caps", vf([vrd(0x100), vrd(0x140), vwr(0x100, 4, 0), vrd(0x180)],
                                     patches=[(0x100, 0x10), (0x102, 0x01), (0x103, 0x14),
                                              (0x140, 0x15), (0x142, 0x01), (0x143, 0x18),
                                              (0x180, 0x01), (0x182, 0x02)]))
write("vfio_config", "sparse-bars", vf([ENABLE, op(4, 7, 0x1000), op(4, 7, 0x2000), op(2, 0, 0x42, 0xFF),
                                         vrd(0x40), op(4, 0x8 | 3, 0x0, 1)],
                                        bars=(14, 0, 5, 0, 0, 0), nommap=0x3C, msix=8,
                                        sparse=[(0, 2), (3, 1)]))
write("vfio_config", "conventional-256", vf([ENABLE, vrd(0xFC), vrd(0x100), vwr(0x100, 4, 1), vrd(0xFFC),
                                              vwr(0x52, 2, 0x0001), vwr(0x54, 4, 0xFEE00000)],
                                             flags=4, raw=raw_cfg([(0x40, pm), (0x50, msi32)])))

# ---- platform: 11-byte records (op, sel, offset, value) ----
def pf(kind, sel=0, off=0, val=0):
    return struct.pack("<BBBQ", kind, sel, off, val)


W = 4  # sel bit 2: a write; bits 0-1: size 1/2/4/8
# A guest setting up a level-triggered pin (COM1's IRQ 4, vector 0x24), the line rising,
# the EOI, the line falling; an edge pin; a masked pin.
write("platform", "ioapic-level", pf(1, 4, 0, 0x8024) + pf(1, 4 | 0x80, 0, 0) + pf(2, 4, 0, 1) +
      pf(3, 0, 0, 0x24) + pf(2, 4, 0, 0) + pf(3, 0, 0, 0x24))
write("platform", "ioapic-edge-masked", pf(1, 2, 0, 0x30) + pf(2, 2, 0, 1) + pf(2, 2, 0, 0) +
      pf(1, 9, 0, 0x10031) + pf(2, 9, 0, 1) + pf(1, 9, 0, 0x31))
write("platform", "ioapic-raw", pf(0, W | 2, 0x00, 0x10) + pf(0, 2, 0x10) + pf(0, W | 3, 0x10, 0x1234) +
      pf(0, W | 0, 0x40, 0x24) + pf(0, 1, 0x03) + pf(0, W | 2, 0x20, 0xffffffff))
# COM1: divisor latch, line control, FIFO, interrupt enable, scratch, input while enabled.
write("platform", "serial", pf(4, W, 3, 0x80) + pf(4, W, 0, 1) + pf(4, W, 1, 0) + pf(4, W, 3, 3) +
      pf(4, W, 2, 0xc7) + pf(4, W, 1, 0x0f) + pf(5, 0, 0, 0x5a) + pf(6, 0, 8) + b"hello\r\n\x01" +
      pf(4, 0, 5) + pf(4, 0, 0) + pf(4, 0, 2) + pf(4, W, 4, 0x10) + pf(4, W, 0, 0x41))
# Power and reset: S5 through the sleep control register, the i8042 pulse, 0xCF9, unclaimed.
write("platform", "power-reset", pf(4, W | 1, 1, 0x3400 >> 8) + pf(4, W, 1, 0x34) + pf(4, 0, 0) +
      pf(4, W, 2, 0xfe) + pf(4, W, 5, 0x06) + pf(7, 2, 0, 0x1234) + pf(7, 0, 0, 0x2f8))

# ---- mshv_intercept: a 64-byte register file, then records (kind, flags, length, payload) ----
def seg(sel, attr):  # struct mshv_seg: base, limit, selector, attributes
    return struct.pack("<QIHH", 0, 0xFFFFFFFF, sel, attr)


def ihdr(rip, ilen, access):  # struct mshv_intercept_header, 64-bit code (CR0.PE, EFER.LMA)
    return struct.pack("<IBBH", 0, ilen, access, (1 << 2) | (1 << 4)) + seg(0x10, 0xA09B) + \
        struct.pack("<QQ", rip, 2)


def mrec(kind, payload, flags=0):
    return struct.pack("<BBB", kind, flags, len(payload)) + payload


KIND_IO, KIND_GPA, KIND_MSR, KIND_CPUID, KIND_EOI, KIND_HALT = 0, 1, 3, 4, 5, 6
regs = bytes(range(64))
io_out = ihdr(0x101000, 1, 1) + struct.pack("<HBBIQ", 0x3F8, 1, 1, 0, 0x41) + \
    b"\xee" + bytes(15) + seg(0x18, 0xC093) * 2 + struct.pack("<QQQ", 0, 0, 0)
io_rep_in = ihdr(0x101000, 2, 0) + struct.pack("<HBBIQ", 0x60, 1 | (1 << 3) | (1 << 4), 2, 0, 0) + \
    b"\xf3\x6c" + bytes(14) + seg(0x18, 0xC093) * 2 + struct.pack("<QQQ", 3, 0, 0x102000)
mmio_store = ihdr(0x101000, 0, 1) + struct.pack("<IBBBBQQ", 0, 3, 2, 0, 0, 0x101000, 0xD0000000) + \
    b"\x89\x07\x90" + bytes(13)
mmio_noinsn = ihdr(0x101000, 0, 0) + struct.pack("<IBBBBQQ", 0, 0, 1, 0, 0, 0x100000, 0xD0000010) + \
    bytes(16)
msr = ihdr(0x101000, 2, 1) + struct.pack("<IIQQ", 0xC0010007, 0, 0, 0xFFFF)
cpuid = ihdr(0x101000, 2, 0) + struct.pack("<8Q", 1, 0, 0, 0, 0x800F12, 0, 0x178BFBFF, 0)
eoi = struct.pack("<II", 0, 0x24)
write("mshv_intercept", "io", regs + mrec(KIND_IO, io_out, 1) + mrec(KIND_IO, io_rep_in, 0) + b"abc")
write("mshv_intercept", "mmio", regs + mrec(KIND_GPA, mmio_store, 1) + mrec(KIND_GPA, mmio_noinsn, 2) +
      b"\x01\x02\x03\x04")
write("mshv_intercept", "misc", regs + mrec(KIND_MSR, msr) + mrec(KIND_CPUID, cpuid) + mrec(KIND_EOI, eoi) +
      mrec(KIND_HALT, ihdr(0x101000, 1, 0)) + mrec(200, b""))

# ---- api: a piece size, then what a client sends ----
def api(piece, *lines, tail=b""):
    return bytes([piece - 1]) + b"".join(l + b"\n" for l in lines) + tail


write("api", "list", api(256, b'{"execute": "list", "id": 1}'))
write("api", "session", api(7, b'{"execute":"list"}', b'', b'{"execute": "nope", "id": "x"}',
                            b'{"execute": "list", "arguments": {"a": "b"}}', b'[1]', b'{"id": 3}',
                            b'{"execute": "shutdown", "id": [1]}', b'{"execute": "stop"}',
                            tail=b'{"execute": "list"}'))
write("api", "bad-json", api(3, b'{"execute": ', b'\xff\xfe', b'{"execute": "list", "execute": "x"}',
                             b'{"execute": "list"}\r'))
write("api", "devices", api(64, b'{"execute": "add-device", "arguments": {"bdf": "0000:01:00.0", "port": "hp0"}}',
                            b'{"execute": "add-device", "arguments": {"bdf": "zz"}}',
                            b'{"execute": "add-device", "arguments": {"bdf": "01:00.0", "port": "nope"}}',
                            b'{"execute": "remove-device", "arguments": {"bdf": "0000:01:00.0"}}',
                            b'{"execute": "remove-device"}'))
write("api", "too-large", api(256, b'{"execute": "list", "pad": "' + b"x" * 17000 + b'"}'))
