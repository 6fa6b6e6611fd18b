/* SPDX-License-Identifier: MIT */
/*
 * Private to platform/ (and its tests): the AML encoder and _CRS resource descriptors (aml.c)
 * that acpi.c writes the DSDT with.
 */
#ifndef HVMM_PLATFORM_INTERNAL_H
#define HVMM_PLATFORM_INTERNAL_H

#include "platform/platform.h"

/* AML opcodes (ACPI 6.x, 20.3). */
#define AML_ZERO               0x00
#define AML_ONE                0x01
#define AML_NAME               0x08
#define AML_BYTE               0x0a
#define AML_WORD               0x0b
#define AML_DWORD              0x0c
#define AML_QWORD              0x0e
#define AML_SCOPE              0x10
#define AML_BUFFER             0x11
#define AML_PACKAGE            0x12
#define AML_EXT_PREFIX         0x5b
#define AML_DEVICE             0x82 /* after AML_EXT_PREFIX */
#define AML_OPREGION           0x80 /* after AML_EXT_PREFIX */
#define AML_FIELD              0x81 /* after AML_EXT_PREFIX */
#define AML_ROOT               0x5c /* '\' */
#define AML_STRING             0x0d
#define AML_METHOD             0x14
#define AML_NULL_NAME          0x00
#define AML_DUAL_NAME          0x2e
#define AML_MULTI_NAME         0x2f
#define AML_LOCAL(n)           (0x60 + (n)) /* Local0-Local7 */
#define AML_ARG(n)             (0x68 + (n)) /* Arg0-Arg6 */
#define AML_STORE              0x70         /* Store(source, target) */
#define AML_AND                0x7b         /* And(a, b, target) */
#define AML_OR                 0x7d         /* Or(a, b, target) */
#define AML_NOTIFY             0x86         /* Notify(object, value) */
#define AML_CREATE_DWORD_FIELD 0x8a         /* CreateDWordField(buffer, byte index, name) */
#define AML_LNOT               0x92
#define AML_LEQUAL             0x93
#define AML_IF                 0xa0
#define AML_ELSE               0xa1
#define AML_RETURN             0xa4

/*
 * AML being written to p[0..cap).  Every call appends; one that does not fit sets `full` and
 * writes nothing more, so the caller checks once, at the end.
 */
struct aml {
	uint8_t *p;
	size_t len, cap;
	bool full;
};

void aml_put(struct aml *a, const void *src, size_t n);
void aml_byte(struct aml *a, uint8_t v);
/* Start a package-length object (op, then its body): returns the mark aml_close() takes. */
size_t aml_open(struct aml *a, uint8_t op);
/* Insert the PkgLength in front of the body begun at `start`, now that its size is known. */
void aml_close(struct aml *a, size_t start);
/* The shortest integer encoding of v (Zero, One, Byte, Word, DWord or QWord). */
void aml_int(struct aml *a, uint64_t v);
/* Name(seg, ...): the caller appends the value.  `seg` is exactly 4 characters. */
void aml_name(struct aml *a, const char *seg);
void aml_name_int(struct aml *a, const char *seg, uint64_t v);
/* Name(seg, EisaId("PNP0A08")). */
void aml_name_eisaid(struct aml *a, const char *seg, const char *id);
void aml_name_buffer(struct aml *a, const char *seg, const uint8_t *data, size_t n);
/* Device(seg) { ... }: returns the mark for aml_close() when the body is done. */
size_t aml_device(struct aml *a, const char *seg);
/*
 * Package(n) { ... }: the caller appends the n elements (integers with aml_int(), packages
 * with aml_package() again) and ends it with aml_close() on the returned mark.
 */
size_t aml_package(struct aml *a, uint8_t n);
/* Name(seg, "str"): a string of printable ASCII (a _HID such as "ACPI0013"). */
void aml_name_string(struct aml *a, const char *seg, const char *str);
/*
 * A NameString from a path: an optional leading '\' (root) or '^'s (parents), then 4-character
 * segments separated by '.' ("\_SB_.PCI0", "PWRB").  A malformed path marks the AML full.
 */
void aml_path(struct aml *a, const char *path);
/* Method(seg, nargs (0-7), Serialized or NotSerialized) { ... }: the mark for aml_close(). */
size_t aml_method(struct aml *a, const char *seg, unsigned nargs, bool serialized);
/*
 * If (predicate) { ... } and Else { ... }: aml_if() returns the mark; append the predicate,
 * then the body, then aml_close().  An Else follows its If's aml_close() directly.
 */
size_t aml_if(struct aml *a);
size_t aml_else(struct aml *a);
/* Notify(path, value). */
void aml_notify(struct aml *a, const char *path, uint8_t value);
/* A Buffer object holding `n` bytes (a term, not a Name). */
void aml_buffer(struct aml *a, const uint8_t *data, size_t n);
/*
 * ToUUID("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"): the 16-byte Buffer, its first three fields
 * little-endian as the ACPI spec lays them out.  A malformed UUID marks the AML full.
 */
void aml_uuid(struct aml *a, const char *uuid);
/* OperationRegion(seg, space, offset, length); spaces: */
#define AML_SPACE_MEMORY 0
#define AML_SPACE_IO     1
void aml_opregion(struct aml *a, const char *seg, uint8_t space, uint64_t off, uint64_t len);
/* Field(region, access, NoLock, Preserve) { names[i], bits[i] ... } from offset 0. */
#define AML_FIELD_BYTE  1
#define AML_FIELD_DWORD 3
void aml_field(struct aml *a, const char *region, uint8_t access, const char *const *names,
               const uint8_t *bits, size_t n);
/* CreateDWordField(source (an AML_ARG/AML_LOCAL byte), byte index, seg). */
void aml_create_dword_field(struct aml *a, uint8_t source, uint64_t index, const char *seg);

/*
 * A _CRS buffer being filled.  A descriptor that does not fit in AML_RES_MAX bytes sets `full`
 * and writes nothing; aml_name_res() then marks the AML full, so the table build fails with
 * -ENOSPC instead of writing past the buffer.
 */
#define AML_RES_MAX 160
struct aml_res {
	uint8_t b[AML_RES_MAX];
	size_t n;
	bool full;
};

/* IO(Decode16, base, base, 1, len) */
void aml_res_io(struct aml_res *r, uint16_t base, uint8_t len);
/* IRQNoFlags(){irq}: edge triggered, active high, the ISA default. */
void aml_res_irq(struct aml_res *r, unsigned irq);
/* Interrupt(ResourceConsumer, Level or Edge, ActiveHigh, Exclusive) {gsi}. */
void aml_res_ext_irq(struct aml_res *r, uint32_t gsi, bool level);

/* Window types and their type-specific flags (6.4.3.5). */
#define AML_RES_WINDOW          0x0c /* general flags: producer, MinFixed, MaxFixed, PosDecode */
#define AML_RES_MEM             0
#define AML_RES_IO              1
#define AML_RES_BUS             2
#define AML_RES_MEM_RW          0x01
#define AML_RES_MEM_CACHEABLE   0x02
#define AML_RES_IO_ENTIRE_RANGE 0x03
/*
 * A host bridge window [min, min + len) of `type`: a Word, DWord or QWord Address Space
 * Descriptor as `width` is 2, 4 or 8 bytes (another width marks the buffer full).
 */
void aml_res_window(struct aml_res *r, uint8_t type, uint8_t tflags, unsigned width, uint64_t min,
                    uint64_t len);
/* Memory32Fixed(ReadWrite, base, len) */
void aml_res_mem32_fixed(struct aml_res *r, uint32_t base, uint32_t len);
/* EndTag. */
void aml_res_end(struct aml_res *r);
/* Name(seg, Buffer() {r}), or the AML marked full if r overflowed. */
void aml_name_res(struct aml *a, const char *seg, const struct aml_res *r);

/* ---- The API (api.c, api_cmd.c, remote.c) ------------------------------------------------ */

/* Error classes of the API's replies (docs/api.md). */
#define API_ERR_BAD_JSON        "BadJSON"        /* the line is not JSON */
#define API_ERR_BAD_REQUEST     "BadRequest"     /* JSON, but not a request this API takes */
#define API_ERR_TOO_LARGE       "TooLarge"       /* longer than API_MAX_REQUEST */
#define API_ERR_UNKNOWN_COMMAND "UnknownCommand" /* execute names no command */
#define API_ERR_NOT_FOUND       "NotFound"       /* no such device or port */
#define API_ERR_BUSY            "Busy"           /* in use, or the port is full */
#define API_ERR_TOO_MANY        "TooManyClients" /* API_MAX_CLIENTS are connected */
#define API_ERR_FAILED          "Failed"         /* the VMM could not do it (see its log) */

typedef struct json_t json_t;
/* Compact JSON of obj with a newline, malloc'd; NULL if out of memory. */
char *api_dump_line(json_t *obj);

#endif
