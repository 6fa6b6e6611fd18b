/* SPDX-License-Identifier: MIT */
/*
 * A tiny AML encoder (only the opcodes the DSDT needs, ACPI 6.x chapter 20) and the resource
 * descriptors of _CRS buffers (6.4).  Both append to a fixed buffer and mark it full instead
 * of writing past its end; acpi.c checks once, at the end of a table.
 */
#include <string.h>

#include "platform/internal.h"

void aml_put(struct aml *a, const void *src, size_t n)
{
	if (a->full || n > a->cap - a->len) {
		a->full = true;
		return;
	}
	memcpy(a->p + a->len, src, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t v)
{
	aml_put(a, &v, 1);
}

/* Start a package-length object: returns where its body begins, for aml_close(). */
size_t aml_open(struct aml *a, uint8_t op)
{
	aml_byte(a, op);
	return a->len;
}

/* Insert the PkgLength in front of the body, now that its size is known (20.2.4). */
void aml_close(struct aml *a, size_t start)
{
	size_t body = a->len - start, n, total;
	uint8_t enc[4];

	if (a->full)
		return;
	if (body + 1 <= 0x3f)
		n = 1;
	else if (body + 2 <= 0xfff)
		n = 2;
	else if (body + 3 <= 0xfffff)
		n = 3;
	else
		n = 4;
	total = body + n; /* the length counts its own bytes */
	if (n == 1) {
		enc[0] = (uint8_t)total;
	} else {
		enc[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (size_t i = 1; i < n; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	if (n > a->cap - a->len) {
		a->full = true;
		return;
	}
	memmove(a->p + start + n, a->p + start, body);
	memcpy(a->p + start, enc, n);
	a->len += n;
}

void aml_int(struct aml *a, uint64_t v)
{
	uint8_t b[8];

	if (v <= 1) {
		aml_byte(a, v ? AML_ONE : AML_ZERO);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		le16_put(b, (uint16_t)v);
		aml_put(a, b, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD);
		le32_put(b, (uint32_t)v);
		aml_put(a, b, 4);
	} else {
		aml_byte(a, AML_QWORD);
		le64_put(b, v);
		aml_put(a, b, 8);
	}
}

/* Name(seg, ...): the caller appends the value. `seg` is exactly 4 characters. */
void aml_name(struct aml *a, const char *seg)
{
	aml_byte(a, AML_NAME);
	aml_put(a, seg, 4);
}

void aml_name_int(struct aml *a, const char *seg, uint64_t v)
{
	aml_name(a, seg);
	aml_int(a, v);
}

/* EisaId("PNP0A08"): three 5-bit letters and four hex digits, stored big-endian. */
void aml_name_eisaid(struct aml *a, const char *seg, const char *id)
{
	uint32_t v = (uint32_t)(id[0] - 0x40) << 26 | (uint32_t)(id[1] - 0x40) << 21 |
	             (uint32_t)(id[2] - 0x40) << 16;

	for (int i = 3; i < 7; i++) {
		char c = id[i];

		v |= (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10) << (4 * (6 - i));
	}
	aml_name(a, seg);
	aml_int(a, __builtin_bswap32(v));
}

void aml_name_buffer(struct aml *a, const char *seg, const uint8_t *data, size_t n)
{
	size_t b;

	aml_name(a, seg);
	b = aml_open(a, AML_BUFFER);
	aml_int(a, n);
	aml_put(a, data, n);
	aml_close(a, b);
}

/* Device(seg) { ... }: returns the mark to aml_close() when the body is done. */
size_t aml_device(struct aml *a, const char *seg)
{
	size_t d;

	aml_byte(a, AML_EXT_PREFIX);
	d = aml_open(a, AML_DEVICE);
	aml_put(a, seg, 4);
	return d;
}

size_t aml_package(struct aml *a, uint8_t n)
{
	size_t p = aml_open(a, AML_PACKAGE);

	aml_byte(a, n); /* NumElements */
	return p;
}

void aml_name_string(struct aml *a, const char *seg, const char *str)
{
	aml_name(a, seg);
	aml_byte(a, AML_STRING);
	aml_put(a, str, strlen(str) + 1);
}

static bool aml_seg_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

/* NameString (20.2.2): prefix, then one segment, a DualNamePath or a MultiNamePath. */
void aml_path(struct aml *a, const char *path)
{
	const char *p = path;
	size_t len, nseg;

	if (*p == '\\')
		aml_byte(a, (uint8_t)*p++);
	while (*p == '^')
		aml_byte(a, (uint8_t)*p++);
	len = strlen(p);
	nseg = (len + 1) / 5;
	if (!len || (len + 1) % 5 || nseg > 255) {
		a->full = true; /* not a path this encoder writes: the table is refused */
		return;
	}
	for (size_t i = 0; i < nseg; i++) {
		const char *seg = p + 5 * i;

		for (size_t j = 0; j < 4; j++) {
			if (!aml_seg_char(seg[j], j == 0))
				a->full = true;
		}
		if (i + 1 < nseg && seg[4] != '.')
			a->full = true;
	}
	if (nseg == 2)
		aml_byte(a, AML_DUAL_NAME);
	else if (nseg > 2) {
		aml_byte(a, AML_MULTI_NAME);
		aml_byte(a, (uint8_t)nseg);
	}
	for (size_t i = 0; i < nseg; i++)
		aml_put(a, p + 5 * i, 4);
}

size_t aml_method(struct aml *a, const char *seg, unsigned nargs, bool serialized)
{
	size_t m = aml_open(a, AML_METHOD);

	aml_put(a, seg, 4);
	if (nargs > 7)
		a->full = true;
	aml_byte(a, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
	return m;
}

size_t aml_if(struct aml *a)
{
	return aml_open(a, AML_IF);
}

size_t aml_else(struct aml *a)
{
	return aml_open(a, AML_ELSE);
}

void aml_notify(struct aml *a, const char *path, uint8_t value)
{
	aml_byte(a, AML_NOTIFY);
	aml_path(a, path);
	aml_int(a, value);
}

void aml_buffer(struct aml *a, const uint8_t *data, size_t n)
{
	size_t b = aml_open(a, AML_BUFFER);

	aml_int(a, n);
	aml_put(a, data, n);
	aml_close(a, b);
}

static int aml_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * ToUUID (19.6.142): the string's byte pairs in the order 3 2 1 0 - 5 4 - 7 6 - 8 9 - 10..15,
 * so the first three fields land little-endian.
 */
void aml_uuid(struct aml *a, const char *uuid)
{
	static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	uint8_t raw[16], b[16];
	size_t k = 0;

	for (size_t i = 0; uuid[i] && k < 16; i++) {
		int hi, lo;

		if ((i == 8 || i == 13 || i == 18 || i == 23) && uuid[i] == '-')
			continue;
		hi = aml_hex(uuid[i]);
		lo = uuid[i + 1] ? aml_hex(uuid[i + 1]) : -1;
		if (hi < 0 || lo < 0)
			break;
		raw[k++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	if (k != 16 || strlen(uuid) != 36) {
		a->full = true;
		return;
	}
	for (size_t i = 0; i < 16; i++)
		b[i] = raw[order[i]];
	aml_buffer(a, b, 16);
}

void aml_opregion(struct aml *a, const char *seg, uint8_t space, uint64_t off, uint64_t len)
{
	aml_byte(a, AML_EXT_PREFIX);
	aml_byte(a, AML_OPREGION);
	aml_put(a, seg, 4);
	aml_byte(a, space);
	aml_int(a, off);
	aml_int(a, len);
}

/* A field unit's length in bits is a PkgLength-style encoding of its own (20.2.5.2). */
void aml_field(struct aml *a, const char *region, uint8_t access, const char *const *names,
               const uint8_t *bits, size_t n)
{
	size_t f;

	aml_byte(a, AML_EXT_PREFIX);
	f = aml_open(a, AML_FIELD);
	aml_path(a, region);
	aml_byte(a, access); /* NoLock, Preserve: the upper bits stay 0 */
	for (size_t i = 0; i < n; i++) {
		aml_put(a, names[i], 4);
		if (bits[i] > 0x3f)
			a->full = true; /* one-byte lengths only: fields of up to 63 bits */
		aml_byte(a, bits[i]);
	}
	aml_close(a, f);
}

void aml_create_dword_field(struct aml *a, uint8_t source, uint64_t index, const char *seg)
{
	aml_byte(a, AML_CREATE_DWORD_FIELD);
	aml_byte(a, source);
	aml_int(a, index);
	aml_put(a, seg, 4);
}

/* ---- Resource descriptors (6.4) for _CRS buffers ----------------------------------------- */

/* Room for n more bytes, or NULL (and the buffer marked full) if they do not fit. */
static uint8_t *aml_res_add(struct aml_res *r, size_t n)
{
	uint8_t *p;

	if (r->full || n > sizeof(r->b) - r->n) {
		r->full = true;
		return NULL;
	}
	p = r->b + r->n;
	r->n += n;
	return p;
}

void aml_res_io(struct aml_res *r, uint16_t base, uint8_t len)
{
	uint8_t *p = aml_res_add(r, 8);

	if (!p)
		return;
	p[0] = 0x47;
	p[1] = 1; /* Decode16 */
	le16_put(p + 2, base);
	le16_put(p + 4, base);
	p[6] = 1;
	p[7] = len;
}

void aml_res_irq(struct aml_res *r, unsigned irq)
{
	uint8_t *p = aml_res_add(r, 3);

	if (!p)
		return;
	p[0] = 0x22;
	le16_put(p + 1, (uint16_t)(1u << irq));
}

/* Extended Interrupt Descriptor (6.4.3.6) with one interrupt. */
void aml_res_ext_irq(struct aml_res *r, uint32_t gsi, bool level)
{
	uint8_t *p = aml_res_add(r, 9);

	if (!p)
		return;
	p[0] = 0x89;
	le16_put(p + 1, 6);
	p[3] = level ? 0x01 : 0x03; /* consumer; edge when bit 1; active high, exclusive */
	p[4] = 1;
	le32_put(p + 5, gsi);
}

void aml_res_window(struct aml_res *r, uint8_t type, uint8_t tflags, unsigned width, uint64_t min,
                    uint64_t len)
{
	/* Small-item tags of the Word, DWord and QWord Address Space Descriptors. */
	uint8_t tag = width == 2 ? 0x88 : width == 4 ? 0x87 : 0x8a;
	size_t body = 3 + 5 * (size_t)width; /* type, flags, type flags, then five fields */
	uint8_t *p;

	if (width != 2 && width != 4 && width != 8) {
		r->full = true; /* not a descriptor this encoder knows: the table is refused */
		return;
	}
	p = aml_res_add(r, 3 + body);
	if (!p)
		return;
	p[0] = tag;
	le16_put(p + 1, (uint16_t)body);
	p[3] = type;
	p[4] = AML_RES_WINDOW;
	p[5] = tflags;
	le_put(p + 6, 0, width);                         /* granularity */
	le_put(p + 6 + width, min, width);               /* minimum */
	le_put(p + 6 + 2 * width, min + len - 1, width); /* maximum */
	le_put(p + 6 + 3 * width, 0, width);             /* translation offset */
	le_put(p + 6 + 4 * width, len, width);           /* length */
}

void aml_res_mem32_fixed(struct aml_res *r, uint32_t base, uint32_t len)
{
	uint8_t *p = aml_res_add(r, 12);

	if (!p)
		return;
	p[0] = 0x86;
	le16_put(p + 1, 9);
	p[3] = 1; /* read-write */
	le32_put(p + 4, base);
	le32_put(p + 8, len);
}

void aml_res_end(struct aml_res *r)
{
	uint8_t *p = aml_res_add(r, 2);

	if (!p)
		return;
	p[0] = 0x79;
	p[1] = 0; /* checksum 0: "treat as valid" */
}

void aml_name_res(struct aml *a, const char *seg, const struct aml_res *r)
{
	if (r->full) {
		a->full = true;
		return;
	}
	aml_name_buffer(a, seg, r->b, r->n);
}
