/* SPDX-License-Identifier: MIT */
/*
 * The fake VFIO kernel's device fd: information, interrupts (VFIO_DEVICE_SET_IRQS as
 * vfio-pci takes it, Linux 6.1 and >= 6.5), function and bus resets, and BAR and ROM
 * accesses.  Every refusal cites where vfio-pci makes it.  See fake_vfio.h.
 */
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/vfio/internal.h"
#include "tests/unit/unit.h"

bool fake_vfio_is_eventfd(int fd)
{
	char path[64], link[64];
	ssize_t n;

	if (fd < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	return !strcmp(link, "anon_inode:[eventfd]");
}

unsigned fake_vfio_power(const struct fake_vfio_dev *d)
{
	uint32_t pm = fake_vfio_cap(d, PCI_CAP_ID_PM, false);

	return pm ? d->config[pm + PCI_PM_CTRL] & PCI_PM_CTRL_STATE_MASK : 0;
}

/* __vfio_pci_memory_enabled() (vfio_pci_config.c): decoding on and not in D3hot. */
bool fake_vfio_memory_on(const struct fake_vfio_dev *d)
{
	return (d->config[PCI_COMMAND] & PCI_COMMAND_MEMORY) && fake_vfio_power(d) < 3;
}

/* vfio_pci_get_irq_count() (vfio_pci_core.c): what the device's capabilities say. */
static uint32_t fake_irq_count(const struct fake_vfio_dev *d, unsigned index)
{
	uint32_t c;

	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		/* vfio_config_init() reads the pin as 0 when the host routed no IRQ. */
		return d->config[PCI_INTERRUPT_PIN] && !d->intx_no_irq ? 1 : 0;
	case VFIO_PCI_MSI_IRQ_INDEX:
		c = fake_vfio_cap(d, PCI_CAP_ID_MSI, false);
		return c ? 1u << ((d->config[c + PCI_MSI_FLAGS] & PCI_MSI_FLAGS_QMASK) >> 1) : 0;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		c = fake_vfio_cap(d, PCI_CAP_ID_MSIX, false);
		return c ? ((uint32_t)d->config[c + 2] | (uint32_t)(d->config[c + 3] & 7) << 8) + 1
		         : 0;
	case VFIO_PCI_ERR_IRQ_INDEX:
		return fake_vfio_cap(d, PCI_CAP_ID_EXP, false) ? 1 : 0;
	case VFIO_PCI_REQ_IRQ_INDEX:
		return 1;
	default:
		return 0;
	}
}

int fake_vfio_trigger(const struct fake_vfio_dev *d, unsigned index, unsigned vector)
{
	if (index == VFIO_PCI_ERR_IRQ_INDEX)
		return d->err_fd;
	if (index == VFIO_PCI_REQ_IRQ_INDEX)
		return d->req_fd;
	if ((int)index != d->irq_type || vector >= FAKE_VFIO_VECS)
		return -1;
	return d->trig[vector];
}

/* The capability's enable bit in the hardware, as pci_alloc_irq_vectors() leaves it. */
static void fake_irq_hw_enable(struct fake_vfio_dev *d, bool msix, bool on)
{
	uint32_t c = fake_vfio_cap(d, msix ? PCI_CAP_ID_MSIX : PCI_CAP_ID_MSI, false);
	uint8_t *b = msix ? &d->config[c + PCI_MSIX_FLAGS + 1] : &d->config[c + PCI_MSI_FLAGS];
	uint8_t bit = msix ? PCI_MSIX_FLAGS_ENABLE >> 8 : PCI_MSI_FLAGS_ENABLE;

	if (c)
		*b = (uint8_t)(on ? *b | bit : *b & ~bit);
}

/* vfio_msi_disable() (vfio_pci_intrs.c). */
static void fake_msi_disable(struct fake_vfio_dev *d)
{
	fake_irq_hw_enable(d, d->irq_type == VFIO_PCI_MSIX_IRQ_INDEX, false);
	for (unsigned i = 0; i < FAKE_VFIO_VECS; i++)
		d->trig[i] = -1;
	d->nvec = 0;
	d->irq_type = FAKE_VFIO_NO_IRQS;
	d->irq_disables++;
}

/*
 * vfio_msi_enable() (vfio_pci_intrs.c): pci_alloc_irq_vectors(pdev, 1, nvec); when the host
 * has fewer vectors it returns how many it could give, with nothing enabled.
 */
static int fake_msi_enable(struct fake_vfio_dev *d, unsigned index, uint32_t nvec)
{
	if (d->host_vectors && nvec > d->host_vectors)
		return (int)d->host_vectors;
	d->irq_type = (int)index;
	d->nvec = nvec;
	d->irq_enables++;
	fake_irq_hw_enable(d, index == VFIO_PCI_MSIX_IRQ_INDEX, true);
	return 0;
}

/*
 * vfio_msi_set_vector_signal(): the vector must be allocated -- before Linux 6.5
 * vfio_msi_set_block() refuses any vector past the enabled count; from 6.5 a vector past it is
 * allocated on its own only for MSI-X with dynamic allocation (vfio_msi_alloc_irq()) -- and the
 * fd must be an eventfd (eventfd_ctx_fdget()).  A negative fd only detaches.
 */
static int fake_msi_set_vector(struct fake_vfio_dev *d, bool msix, uint32_t v, int fd)
{
	d->trig[v] = -1;
	if (fd < 0)
		return 0;
	if (v >= d->nvec) {
		if (!msix || !d->dyn_msix)
			return -EINVAL;
		if (d->host_vectors && v + 1 > d->host_vectors)
			return -ENOSPC;
		d->nvec = v + 1;
	}
	if (!fake_vfio_is_eventfd(fd))
		return -EINVAL;
	d->trig[v] = fd;
	return 0;
}

/* vfio_msi_set_block(): a failure detaches the vectors this call had set. */
static int fake_msi_set_block(struct fake_vfio_dev *d, bool msix, uint32_t start, uint32_t count,
                              const int32_t *fds)
{
	uint32_t j;
	int r = 0;

	for (j = start; j < start + count && !r; j++)
		r = fake_msi_set_vector(d, msix, j, fds ? fds[j - start] : -1);
	if (r) {
		for (uint32_t k = start; k < j; k++)
			d->trig[k] = -1;
	}
	return r;
}

/* vfio_pci_set_msi_trigger() (vfio_pci_intrs.c). */
static int fake_set_msi_trigger(struct fake_vfio_dev *d, const struct vfio_irq_set *s)
{
	bool msix = s->index == VFIO_PCI_MSIX_IRQ_INDEX;
	int r;

	if (d->irq_type == (int)s->index && !s->count && (s->flags & VFIO_IRQ_SET_DATA_NONE)) {
		fake_msi_disable(d);
		return 0;
	}
	/* One interrupt type at a time: MSI-X is refused while MSI is on, and the reverse. */
	if (!(d->irq_type == (int)s->index || d->irq_type == FAKE_VFIO_NO_IRQS))
		return -EINVAL;
	if (s->flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		const int32_t *fds = (const int32_t *)s->data;

		if (d->irq_type == (int)s->index)
			return fake_msi_set_block(d, msix, s->start, s->count, fds);
		if ((r = fake_msi_enable(d, s->index, s->start + s->count)))
			return r;
		if ((r = fake_msi_set_block(d, msix, s->start, s->count, fds)))
			fake_msi_disable(d);
		return r;
	}
	/* DATA_NONE or DATA_BOOL: loopback, only on the enabled index. */
	if (d->irq_type != (int)s->index)
		return -EINVAL;
	for (uint32_t i = s->start; i < s->start + s->count; i++) {
		uint64_t one = 1;

		if (d->trig[i] >= 0 &&
		    ((s->flags & VFIO_IRQ_SET_DATA_NONE) || s->data[i - s->start]) &&
		    write(d->trig[i], &one, sizeof(one)) != sizeof(one))
			return -EIO;
	}
	return 0;
}

/* ---- INTx (vfio_pci_intrs.c) ------------------------------------------------------------- */

static bool fake_is_intx(const struct fake_vfio_dev *d)
{
	return d->irq_type == VFIO_PCI_INTX_IRQ_INDEX;
}

/* vfio_send_intx_eventfd(): only while INTx is enabled and the user has not disabled it. */
static void fake_intx_send(struct fake_vfio_dev *d)
{
	uint64_t one = 1;

	if (fake_is_intx(d) && !d->virq_disabled && d->trig[0] >= 0 &&
	    write(d->trig[0], &one, sizeof(one)) == sizeof(one))
		d->intx_signals++;
}

/* pci_intx(): the device's own INTx-disable bit; a device without INTx masking has none. */
static void fake_pci_intx(struct fake_vfio_dev *d, bool enable)
{
	uint8_t bit = PCI_COMMAND_INTX_DISABLE >> 8;

	if (!d->intx_no_2_3)
		d->config[PCI_COMMAND + 1] = (uint8_t)(enable ? d->config[PCI_COMMAND + 1] & ~bit
		                                              : d->config[PCI_COMMAND + 1] | bit);
}

/* Whether the line reaches the host's interrupt: not while the device's INTx-disable is set. */
static bool fake_intx_reaches(const struct fake_vfio_dev *d)
{
	return d->intx_line &&
	       (d->intx_no_2_3 || !(d->config[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8)));
}

/*
 * vfio_intx_handler(): the host interrupt of a line vfio-pci has not masked: it masks it
 * (pci_check_and_mask_intx(), or disable_irq_nosync() without INTx masking) and signals.
 */
static void fake_intx_handler(struct fake_vfio_dev *d)
{
	if (!fake_is_intx(d) || d->intx_masked || !fake_intx_reaches(d))
		return;
	fake_pci_intx(d, false);
	d->intx_masked = true;
	fake_intx_send(d);
}

void fake_vfio_intx_line(struct fake_vfio_dev *d, bool level)
{
	d->intx_line = level;
	d->config[PCI_STATUS] = (uint8_t)(level ? d->config[PCI_STATUS] | PCI_STATUS_INTERRUPT
	                                        : d->config[PCI_STATUS] & ~PCI_STATUS_INTERRUPT);
	fake_intx_handler(d);
}

/* vfio_pci_intx_mask(): from the ioctl or from the INTx-disable bit of COMMAND. */
void fake_vfio_intx_mask(struct fake_vfio_dev *d)
{
	d->intx_mask_calls++;
	/* Not using INTx: the physical bit just follows the virtual one. */
	if (!fake_is_intx(d) || !d->intx_masked)
		fake_pci_intx(d, false);
	if (fake_is_intx(d))
		d->intx_masked = true;
}

/*
 * vfio_pci_intx_unmask_handler() and vfio_pci_intx_unmask(): refused while the user has INTx
 * disabled; a line still asserted stays masked and is signalled again instead
 * (pci_check_and_unmask_intx() leaves it masked; without INTx masking enable_irq() runs the
 * handler again).
 */
void fake_vfio_intx_unmask(struct fake_vfio_dev *d)
{
	d->intx_unmask_calls++;
	if (!fake_is_intx(d)) {
		fake_pci_intx(d, true);
		return;
	}
	if (!d->intx_masked || d->virq_disabled)
		return;
	if (d->intx_line) {
		fake_intx_send(d);
		return;
	}
	fake_pci_intx(d, true);
	d->intx_masked = false;
}

/* vfio_intx_disable(). */
static void fake_intx_disable(struct fake_vfio_dev *d)
{
	d->trig[0] = -1;
	d->intx_masked = false;
	d->irq_type = FAKE_VFIO_NO_IRQS;
	d->intx_disables++;
}

/* vfio_intx_set_signal(): -1 only drops the trigger; anything else must be an eventfd. */
static int fake_intx_set_signal(struct fake_vfio_dev *d, int32_t fd)
{
	d->trig[0] = -1;
	if (fd < 0)
		return 0;
	if (!fake_vfio_is_eventfd(fd))
		return -EINVAL;
	d->trig[0] = fd;
	/* request_irq() on a line already asserted runs the handler at once. */
	fake_intx_handler(d);
	return 0;
}

/*
 * vfio_intx_enable(): only with no interrupt type enabled (vfio_pci_set_intx_trigger()
 * checks), -ENODEV without a host IRQ; the line starts masked if the user disabled INTx.
 */
static int fake_intx_enable(struct fake_vfio_dev *d)
{
	if (d->intx_no_irq)
		return -ENODEV;
	d->irq_type = VFIO_PCI_INTX_IRQ_INDEX;
	d->intx_masked = d->virq_disabled;
	fake_pci_intx(d, !d->intx_masked);
	d->intx_enables++;
	return 0;
}

/*
 * vfio_pci_set_intx_trigger(), _mask() and _unmask(): one vector (start 0, count 1); mask and
 * unmask only while INTx is the enabled type; INTx only while no other type is enabled.
 */
static int fake_set_intx(struct fake_vfio_dev *d, const struct vfio_irq_set *s, uint32_t action)
{
	bool intx = fake_is_intx(d), none = d->irq_type == FAKE_VFIO_NO_IRQS;
	uint32_t type = s->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	int32_t fd;
	int r;

	if (action == VFIO_IRQ_SET_ACTION_TRIGGER && intx && !s->count &&
	    type == VFIO_IRQ_SET_DATA_NONE) {
		fake_intx_disable(d);
		return 0;
	}
	if (action == VFIO_IRQ_SET_ACTION_TRIGGER ? !(intx || none) : !intx)
		return -EINVAL;
	if (s->start != 0 || s->count != 1)
		return -EINVAL;
	if (type == VFIO_IRQ_SET_DATA_EVENTFD) {
		/* Mask by eventfd is unimplemented in vfio-pci; unmask by eventfd is not modelled.
		 */
		if (action != VFIO_IRQ_SET_ACTION_TRIGGER)
			return -ENOTTY;
		memcpy(&fd, s->data, sizeof(fd));
		if (intx)
			return fake_intx_set_signal(d, fd);
		if ((r = fake_intx_enable(d)))
			return r;
		if ((r = fake_intx_set_signal(d, fd)))
			fake_intx_disable(d);
		return r;
	}
	if (type == VFIO_IRQ_SET_DATA_BOOL && !s->data[0])
		return 0;
	if (action == VFIO_IRQ_SET_ACTION_MASK)
		fake_vfio_intx_mask(d);
	else if (action == VFIO_IRQ_SET_ACTION_UNMASK)
		fake_vfio_intx_unmask(d);
	else
		fake_intx_send(d);
	return 0;
}

/* vfio_pci_set_ctx_trigger_single(): the error and request eventfds. */
static int fake_set_single(int *slot, const struct vfio_irq_set *s)
{
	int32_t fd;

	if (s->start != 0 || s->count > 1)
		return -EINVAL;
	if (s->flags & VFIO_IRQ_SET_DATA_NONE) {
		if (!s->count)
			*slot = -1;
		return 0;
	}
	if (!(s->flags & VFIO_IRQ_SET_DATA_EVENTFD) || !s->count)
		return -EINVAL;
	memcpy(&fd, s->data, sizeof(fd));
	if (fd == -1)
		*slot = -1;
	else if (fd >= 0 && !fake_vfio_is_eventfd(fd))
		return -EINVAL;
	else if (fd >= 0)
		*slot = fd;
	return 0;
}

/*
 * VFIO_DEVICE_SET_IRQS: vfio_set_irqs_validate_and_prepare() (vfio_main.c) checks the header
 * against the index's count, then vfio_pci_set_irqs_ioctl() picks the handler.
 */
static int fake_set_irqs(struct fake_vfio_dev *d, struct vfio_irq_set *s)
{
	uint32_t type = s->flags & VFIO_IRQ_SET_DATA_TYPE_MASK, num, size;
	uint32_t action = s->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;

	d->set_irqs_calls++;
	if (s->argsz < sizeof(*s) || s->index >= VFIO_PCI_NUM_IRQS ||
	    (s->flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)))
		return -EINVAL;
	num = fake_irq_count(d, s->index);
	if (s->start >= num || s->start + s->count > num)
		return -EINVAL;
	if (type == VFIO_IRQ_SET_DATA_NONE)
		size = 0;
	else if (type == VFIO_IRQ_SET_DATA_BOOL)
		size = 1;
	else if (type == VFIO_IRQ_SET_DATA_EVENTFD)
		size = 4;
	else
		return -EINVAL;
	if (s->argsz - sizeof(*s) < (uint64_t)s->count * size)
		return -EINVAL;
	if (s->index == VFIO_PCI_INTX_IRQ_INDEX)
		return fake_set_intx(d, s, action);
	/* vfio_pci_set_irqs_ioctl(): no mask or unmask for the other interrupts. */
	if (action != VFIO_IRQ_SET_ACTION_TRIGGER)
		return -ENOTTY;
	switch (s->index) {
	case VFIO_PCI_MSI_IRQ_INDEX:
	case VFIO_PCI_MSIX_IRQ_INDEX:
		return fake_set_msi_trigger(d, s);
	case VFIO_PCI_ERR_IRQ_INDEX:
		return fake_set_single(&d->err_fd, s);
	case VFIO_PCI_REQ_IRQ_INDEX:
		return fake_set_single(&d->req_fd, s);
	default:
		return -ENOTTY;
	}
}

/* "dddd:bb" of a device name: what a bus reset covers. */
static bool fake_same_bus(const char *a, const char *b)
{
	return !strncmp(a, b, 7);
}

static void fake_dep(struct vfio_pci_dependent_device *out, const char *name, int group)
{
	unsigned seg = 0, bus = 0, dev = 0, fn = 0;

	if (sscanf(name, "%x:%x:%x.%x", &seg, &bus, &dev, &fn) != 4)
		seg = bus = dev = fn = 0;
	*out = (struct vfio_pci_dependent_device){ .group_id = (uint32_t)group,
		                                   .segment = (uint16_t)seg,
		                                   .bus = (uint8_t)bus,
		                                   .devfn = (uint8_t)(dev << 3 | fn) };
}

/* The devices a bus reset of d's bus hits: fake devices on it, and bus_extra. */
static unsigned fake_affected(struct fake_vfio_dev *d, struct vfio_pci_dependent_device *out,
                              unsigned room)
{
	struct fake_vfio *f = fake_vfio_cur();
	unsigned n = 0;

	for (unsigned i = 0; i < f->nr_devs; i++) {
		if (!fake_same_bus(f->dev[i].name, d->name))
			continue;
		if (n < room)
			fake_dep(&out[n], f->dev[i].name, f->dev[i].group);
		n++;
	}
	if (f->bus_extra && fake_same_bus(f->bus_extra, d->name)) {
		if (n < room)
			fake_dep(&out[n], f->bus_extra, f->bus_extra_group);
		n++;
	}
	return n;
}

/*
 * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO (vfio_pci_core.c, vfio_pci_ioctl_get_pci_hot_reset_info):
 * -ENODEV without a slot or bus reset; -ENOSPC with the count when the buffer is short.
 */
static int fake_hot_reset_info(struct fake_vfio_dev *d, struct vfio_pci_hot_reset_info *h)
{
	unsigned room, n;

	if (h->argsz < sizeof(*h))
		return -EINVAL;
	h->flags = 0;
	if (!d->bus_reset)
		return -ENODEV;
	room = (unsigned)((h->argsz - sizeof(*h)) / sizeof(h->devices[0]));
	n = fake_affected(d, h->devices, room);
	h->count = n;
	return n > room ? -ENOSPC : 0;
}

/*
 * VFIO_DEVICE_PCI_HOT_RESET: between 1 and as many group fds as affected devices
 * (vfio_pci_ioctl_pci_hot_reset), each a VFIO group (-EBADF), and every affected device in one
 * of those groups (vfio_pci_dev_set_hot_reset: vfio_dev_in_groups(), -EINVAL).
 */
static int fake_hot_reset(struct fake_vfio_dev *d, struct vfio_pci_hot_reset *h)
{
	struct fake_vfio *f = fake_vfio_cur();
	struct vfio_pci_dependent_device dep[8];
	unsigned n;

	if (h->argsz < sizeof(*h) || h->flags)
		return -EINVAL;
	if (!d->bus_reset)
		return -ENODEV;
	n = fake_affected(d, dep, 8);
	if (!h->count || h->count > n || h->argsz < sizeof(*h) + h->count * sizeof(int32_t))
		return -EINVAL;
	for (uint32_t i = 0; i < h->count; i++) {
		if (fake_vfio_fd_group(h->group_fds[i]) < 0)
			return -EBADF;
	}
	for (unsigned k = 0; k < n && k < 8; k++) {
		bool given = false;

		for (uint32_t i = 0; i < h->count; i++)
			given |= fake_vfio_fd_group(h->group_fds[i]) == (int)dep[k].group_id;
		if (!given)
			return -EINVAL;
	}
	for (unsigned i = 0; i < f->nr_devs; i++) {
		if (fake_same_bus(f->dev[i].name, d->name)) {
			fake_vfio_function_reset(&f->dev[i]);
			f->dev[i].hot_resets++;
		}
	}
	return 0;
}

static int fake_region_info(struct fake_vfio_dev *d, struct vfio_region_info *ri)
{
	uint32_t want = ri->argsz;

	ri->flags = 0;
	ri->size = 0;
	ri->cap_offset = 0;
	ri->offset = (uint64_t)ri->index << 40;
	if (ri->index < 6) {
		ri->size = d->bar_size[ri->index];
		if (ri->size)
			ri->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
			            (d->mmap_ok[ri->index] ? VFIO_REGION_INFO_FLAG_MMAP : 0);
	} else if (ri->index == VFIO_PCI_ROM_REGION_INDEX) {
		ri->size = d->rom_size;
		ri->flags = d->rom_size ? VFIO_REGION_INFO_FLAG_READ : 0;
	} else if (ri->index == VFIO_PCI_CONFIG_REGION_INDEX) {
		ri->size = d->config_size;
		ri->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	} else {
		return -EINVAL; /* no VGA */
	}
	if (ri->index == 0 && d->nr_sparse) {
		size_t need = sizeof(*ri) + sizeof(struct vfio_region_info_cap_sparse_mmap) +
		              d->nr_sparse * sizeof(struct vfio_region_sparse_mmap_area);

		ri->flags |= VFIO_REGION_INFO_FLAG_CAPS;
		ri->argsz = (uint32_t)need;
		if (want >= need) {
			struct vfio_region_info_cap_sparse_mmap *sp = (void *)(ri + 1);

			ri->cap_offset = sizeof(*ri);
			sp->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
			sp->header.version = 1;
			sp->header.next = 0;
			sp->nr_areas = d->nr_sparse;
			for (unsigned i = 0; i < d->nr_sparse; i++) {
				sp->areas[i].offset = d->sparse_off[i];
				sp->areas[i].size = d->sparse_size[i];
			}
		}
	}
	return 0;
}

int fake_vfio_dev_ioctl(struct fake_vfio_dev *d, unsigned long req, void *arg)
{
	switch (req) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info *i = arg;

		i->flags = VFIO_DEVICE_FLAGS_PCI | (d->reset_works ? VFIO_DEVICE_FLAGS_RESET : 0);
		i->num_regions = VFIO_PCI_NUM_REGIONS;
		i->num_irqs = VFIO_PCI_NUM_IRQS;
		return 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO:
		return fake_region_info(d, arg);
	case VFIO_DEVICE_GET_IRQ_INFO: {
		struct vfio_irq_info *ii = arg;

		/* vfio_pci_ioctl_get_irq_info(): no error interrupt without PCI Express. */
		if (ii->index >= VFIO_PCI_NUM_IRQS || (ii->index == VFIO_PCI_ERR_IRQ_INDEX &&
		                                       !fake_vfio_cap(d, PCI_CAP_ID_EXP, false)))
			return -EINVAL;
		ii->flags = VFIO_IRQ_INFO_EVENTFD;
		if (ii->index == VFIO_PCI_INTX_IRQ_INDEX)
			ii->flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
		else if (!(ii->index == VFIO_PCI_MSIX_IRQ_INDEX && d->dyn_msix))
			ii->flags |= VFIO_IRQ_INFO_NORESIZE;
		ii->count = fake_irq_count(d, ii->index);
		return 0;
	}
	case VFIO_DEVICE_SET_IRQS:
		return fake_set_irqs(d, arg);
	case VFIO_DEVICE_RESET:
		/* vfio_pci_core_ioctl(): -EINVAL unless a function reset worked at open. */
		if (!d->reset_works)
			return -EINVAL;
		/* pci_try_reset_function(): -EAGAIN when it cannot take the device lock. */
		if (d->reset_err)
			return d->reset_err;
		fake_vfio_function_reset(d);
		d->resets++;
		return 0;
	case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
		return fake_hot_reset_info(d, arg);
	case VFIO_DEVICE_PCI_HOT_RESET:
		return fake_hot_reset(d, arg);
	default:
		return -ENOTTY;
	}
}

/*
 * vfio_pci_bar_rw() (vfio_pci_rdwr.c): memory BARs answer only while memory is enabled and
 * the device is out of D3hot (-EIO otherwise); the MSI-X table reads as all-ones and drops
 * writes.  The ROM is read-only and mapped again on every read (rom_reads counts them).
 */
static long fake_bar_rw(struct fake_vfio_dev *d, unsigned index, uint8_t *buf, size_t len,
                        uint64_t off, bool write)
{
	uint32_t msix = fake_vfio_cap(d, PCI_CAP_ID_MSIX, false), t_off = 0, t_len = 0;

	if (index == VFIO_PCI_ROM_REGION_INDEX) {
		if (write || off >= d->rom_size)
			return -EINVAL;
		len = len < d->rom_size - off ? len : d->rom_size - off;
		memcpy(buf, d->rom + off, len);
		d->rom_reads++;
		return (long)len;
	}
	if (index != 0 || off >= d->bar_size[0])
		return -EINVAL;
	if (!fake_vfio_memory_on(d))
		return -EIO;
	len = len < d->bar_size[0] - off ? len : d->bar_size[0] - off;
	if (msix && (d->config[msix + 4] & 7) == 0) {
		memcpy(&t_off, d->config + msix + 4, 4);
		t_off &= ~7u;
		t_len = fake_irq_count(d, VFIO_PCI_MSIX_IRQ_INDEX) * 16;
	}
	for (size_t i = 0; i < len; i++) {
		bool table = off + i >= t_off && off + i < (uint64_t)t_off + t_len;

		if (write && !table)
			d->bar0[off + i] = buf[i];
		else if (!write)
			buf[i] = table ? 0xff : d->bar0[off + i];
	}
	return (long)len;
}

long fake_vfio_dev_rw(struct fake_vfio_dev *d, void *buf, size_t len, uint64_t off, bool write)
{
	unsigned index = (unsigned)(off >> 40);
	uint64_t o = off & ((1ull << 40) - 1);

	if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
		/* vfio_pci_config_rw(): the whole access inside config space or -EFAULT. */
		if (o >= d->config_size || len > d->config_size - o)
			return -EFAULT;
		if (write)
			d->cfg_writes++;
		else
			d->cfg_reads++;
		return fake_vfio_cfg_rw(d, buf, len, o, write);
	}
	return fake_bar_rw(d, index, buf, len, o, write);
}
