/* SPDX-License-Identifier: MIT */
/*
 * The /dev/mshv kernel interface: <linux/mshv.h> when the system has it, else the subset hvmm
 * uses, declared here.  Private to hv-mshv/ and the tests that stand in for its kernel.
 */
#ifndef HVMM_HV_MSHV_UAPI_H
#define HVMM_HV_MSHV_UAPI_H

#if __has_include(<linux/mshv.h>)
#include <linux/mshv.h>
#else
/* Linux include/uapi/linux/mshv.h (6.15), the subset hvmm uses. */
#include <linux/ioctl.h>
#include <linux/types.h>

#define MSHV_IOCTL 0xB8

enum {
	MSHV_PT_BIT_LAPIC,
	MSHV_PT_BIT_X2APIC,
	MSHV_PT_BIT_GPA_SUPER_PAGES,
};

struct mshv_create_partition {
	__u64 pt_flags;
	__u64 pt_isolation;
};

struct mshv_create_vp {
	__u32 vp_index;
};

enum {
	MSHV_SET_MEM_BIT_WRITABLE,
	MSHV_SET_MEM_BIT_EXECUTABLE,
	MSHV_SET_MEM_BIT_UNMAP,
};

struct mshv_user_mem_region {
	__u64 size;
	__u64 guest_pfn;
	__u64 userspace_addr;
	__u8 flags;
	__u8 rsvd[7];
};

enum {
	MSHV_IRQFD_BIT_DEASSIGN,
	MSHV_IRQFD_BIT_RESAMPLE,
};

struct mshv_user_irqfd {
	__s32 fd;
	__s32 resamplefd;
	__u32 gsi;
	__u32 flags;
};

enum {
	MSHV_IOEVENTFD_BIT_DATAMATCH,
	MSHV_IOEVENTFD_BIT_PIO,
	MSHV_IOEVENTFD_BIT_DEASSIGN,
};

struct mshv_user_ioeventfd {
	__u64 datamatch;
	__u64 addr;
	__u32 len;
	__s32 fd;
	__u32 flags;
	__u8 rsvd[4];
};

struct mshv_user_irq_entry {
	__u32 gsi;
	__u32 address_lo;
	__u32 address_hi;
	__u32 data;
};

struct mshv_user_irq_table {
	__u32 nr;
	__u32 rsvd;
	struct mshv_user_irq_entry entries[];
};

struct mshv_root_hvcall {
	__u16 code;
	__u16 reps;
	__u16 in_sz;
	__u16 out_sz;
	__u16 status;
	__u8 rsvd[6];
	__u64 in_ptr;
	__u64 out_ptr;
};

#define MSHV_RUN_VP_BUF_SZ 256

enum {
	MSHV_VP_MMAP_OFFSET_REGISTERS,
	MSHV_VP_MMAP_OFFSET_INTERCEPT_MESSAGE,
};

struct mshv_run_vp {
	__u8 msg_buf[MSHV_RUN_VP_BUF_SZ];
};

#define MSHV_CREATE_PARTITION     _IOW(MSHV_IOCTL, 0x00, struct mshv_create_partition)
#define MSHV_INITIALIZE_PARTITION _IO(MSHV_IOCTL, 0x00)
#define MSHV_CREATE_VP            _IOW(MSHV_IOCTL, 0x01, struct mshv_create_vp)
#define MSHV_SET_GUEST_MEMORY     _IOW(MSHV_IOCTL, 0x02, struct mshv_user_mem_region)
#define MSHV_IRQFD                _IOW(MSHV_IOCTL, 0x03, struct mshv_user_irqfd)
#define MSHV_IOEVENTFD            _IOW(MSHV_IOCTL, 0x04, struct mshv_user_ioeventfd)
#define MSHV_SET_MSI_ROUTING      _IOW(MSHV_IOCTL, 0x05, struct mshv_user_irq_table)
#define MSHV_ROOT_HVCALL          _IOWR(MSHV_IOCTL, 0x07, struct mshv_root_hvcall)
#define MSHV_RUN_VP               _IOR(MSHV_IOCTL, 0x00, struct mshv_run_vp)
#endif

/* The numbers both paths must produce (mshv-uapi.md, checked against Linux 6.15). */
_Static_assert(MSHV_CREATE_PARTITION == 0x4010B800, "MSHV_CREATE_PARTITION");
_Static_assert(MSHV_INITIALIZE_PARTITION == 0xB800, "MSHV_INITIALIZE_PARTITION");
_Static_assert(MSHV_CREATE_VP == 0x4004B801, "MSHV_CREATE_VP");
_Static_assert(MSHV_SET_GUEST_MEMORY == 0x4020B802, "MSHV_SET_GUEST_MEMORY");
_Static_assert(MSHV_IRQFD == 0x4010B803, "MSHV_IRQFD");
_Static_assert(MSHV_IOEVENTFD == 0x4020B804, "MSHV_IOEVENTFD");
_Static_assert(MSHV_SET_MSI_ROUTING == 0x4008B805, "MSHV_SET_MSI_ROUTING");
_Static_assert(MSHV_ROOT_HVCALL == 0xC020B807, "MSHV_ROOT_HVCALL");
_Static_assert(MSHV_RUN_VP == 0x8100B800, "MSHV_RUN_VP");

/*
 * The VFIO bridge device of the out-of-tree "PCI passthru on Hyper-V" series (Mukesh Rathor,
 * linux-hyperv 2026, patches "mshv: Add ioctl support for MSHV-VFIO bridge device" and
 * "mshv: Implement mshv bridge device for VFIO"), as KVM's KVM-VFIO device.  Not in
 * mainline's <linux/mshv.h>: a kernel without it answers MSHV_CREATE_DEVICE with ENOTTY.
 */
#ifndef MSHV_CREATE_DEVICE
#define MSHV_CREATE_DEVICE_TEST 1
#define MSHV_DEV_TYPE_VFIO      0
#define MSHV_DEV_VFIO_FILE      1
#define MSHV_DEV_VFIO_FILE_ADD  1
#define MSHV_DEV_VFIO_FILE_DEL  2

struct mshv_create_device {
	__u32 type;  /* in: MSHV_DEV_TYPE_* */
	__u32 fd;    /* out: the device fd */
	__u32 flags; /* in: MSHV_CREATE_DEVICE_TEST only asks whether the type exists */
};

struct mshv_device_attr {
	__u32 flags;
	__u32 group;
	__u64 attr;
	__u64 addr; /* FILE_ADD: points at the __s32 VFIO file descriptor */
};

#define MSHV_CREATE_DEVICE   _IOWR(MSHV_IOCTL, 0x08, struct mshv_create_device)
#define MSHV_SET_DEVICE_ATTR _IOW(MSHV_IOCTL, 0x00, struct mshv_device_attr)
#endif
_Static_assert(MSHV_CREATE_DEVICE == 0xC00CB808, "MSHV_CREATE_DEVICE");
_Static_assert(MSHV_SET_DEVICE_ATTR == 0x4018B800, "MSHV_SET_DEVICE_ATTR");

#define MSHV_MAX_VPS        256
#define MSHV_MAX_GSI        4096
#define MSHV_HVCALL_MAX_BUF 4096

#endif
