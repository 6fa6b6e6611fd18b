/* SPDX-License-Identifier: MIT */
/*
 * The PCI test device (layout in testdev.h): scratch registers, an interrupt doorbell and a
 * DMA engine copying through the guest RAM map, behind every path the PCI core offers (64-bit
 * and I/O BARs, a ROM, MSI, MSI-X, FLR).  Built only into the tests.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/devices/testdev.h"

struct testdev {
	struct pci_dev *dev;
	pthread_mutex_t lock;
	uint64_t scratch, src, dst, len, status;
	uint32_t io_scratch;
};

static uint64_t testdev_reg(struct testdev *t, uint64_t reg)
{
	switch (reg) {
	case TESTDEV_REG_ID:
		return TESTDEV_ID_VALUE;
	case TESTDEV_REG_SCRATCH:
		return t->scratch;
	case TESTDEV_REG_DMA_SRC:
		return t->src;
	case TESTDEV_REG_DMA_DST:
		return t->dst;
	case TESTDEV_REG_DMA_LEN:
		return t->len;
	case TESTDEV_REG_DMA_STS:
		return t->status;
	default:
		return 0;
	}
}

static uint64_t *testdev_rw_reg(struct testdev *t, uint64_t reg)
{
	switch (reg) {
	case TESTDEV_REG_SCRATCH:
		return &t->scratch;
	case TESTDEV_REG_DMA_SRC:
		return &t->src;
	case TESTDEV_REG_DMA_DST:
		return &t->dst;
	case TESTDEV_REG_DMA_LEN:
		return &t->len;
	default:
		return NULL;
	}
}

static uint8_t testdev_io_byte(struct testdev *t, uint64_t off)
{
	uint32_t v = 0;

	if ((off & ~3ull) == TESTDEV_IO_ID)
		v = TESTDEV_ID_VALUE;
	else if ((off & ~3ull) == TESTDEV_IO_SCRATCH)
		v = t->io_scratch;
	return (uint8_t)(v >> (8 * (off & 3)));
}

/* Registers are little-endian qwords (dwords on the I/O BAR); any size and alignment works. */
static void testdev_bar_read(struct pci_dev *dev, unsigned bar, uint64_t off, void *data,
                             uint32_t len)
{
	struct testdev *t = dev->priv;
	uint8_t *d = data;

	pthread_mutex_lock(&t->lock);
	for (uint32_t k = 0; k < len; k++) {
		uint64_t o = off + k;

		if (bar == 0)
			d[k] = (uint8_t)(testdev_reg(t, o & ~7ull) >> (8 * (o & 7)));
		else if (bar == 2)
			d[k] = testdev_io_byte(t, o);
		else if (bar == PCI_ROM_BAR)
			d[k] = o == 0 ? 0x55 : o == 1 ? 0xaa : (uint8_t)o;
		else
			d[k] = 0xff;
	}
	pthread_mutex_unlock(&t->lock);
}

static void testdev_dma(struct testdev *t, uint64_t cmd)
{
	void *src, *dst;
	int r = 0;

	if (t->len > TESTDEV_DMA_MAX) {
		t->status = TESTDEV_DMA_FAULT;
		return;
	}
	if (t->len && ((r = pci_dma_ptr(t->dev, t->src, t->len, &src)) ||
	               (r = pci_dma_ptr(t->dev, t->dst, t->len, &dst)))) {
		t->status = r == -EPERM ? TESTDEV_DMA_NO_BM : TESTDEV_DMA_FAULT;
		return;
	}
	if (t->len)
		memmove(dst, src, t->len);
	t->status = TESTDEV_DMA_DONE;
	(void)cmd;
}

static void testdev_bar_write(struct pci_dev *dev, unsigned bar, uint64_t off, const void *data,
                              uint32_t len)
{
	struct testdev *t = dev->priv;
	const uint8_t *d = data;
	uint64_t doorbell = 0, cmd = 0;
	bool ring = false, start = false;

	pthread_mutex_lock(&t->lock);
	for (uint32_t k = 0; k < len; k++) {
		uint64_t o = off + k, shift = 8 * (o & 7), *reg;

		if (bar == 2) {
			if ((o & ~3ull) == TESTDEV_IO_SCRATCH) {
				t->io_scratch &= ~(0xffu << (8 * (o & 3)));
				t->io_scratch |= (uint32_t)d[k] << (8 * (o & 3));
			}
			continue;
		}
		if (bar != 0)
			continue;
		if ((reg = testdev_rw_reg(t, o & ~7ull))) {
			*reg = (*reg & ~(0xffull << shift)) | (uint64_t)d[k] << shift;
		} else if ((o & ~7ull) == TESTDEV_REG_DOORBELL) {
			doorbell |= (uint64_t)d[k] << shift;
			ring = true;
		} else if ((o & ~7ull) == TESTDEV_REG_DMA_CMD) {
			cmd |= (uint64_t)d[k] << shift;
			start = true;
		}
	}
	start = start && (cmd & TESTDEV_DMA_START);
	if (start)
		testdev_dma(t, cmd);
	pthread_mutex_unlock(&t->lock);
	/* Interrupts after the state they announce is visible. */
	if (ring)
		pci_dev_trigger(dev, (unsigned)doorbell);
	if (start && (cmd & TESTDEV_DMA_IRQ))
		pci_dev_trigger(dev, (unsigned)(cmd >> 8) & 0xff);
}

static void testdev_reset(struct pci_dev *dev)
{
	struct testdev *t = dev->priv;

	pthread_mutex_lock(&t->lock);
	t->scratch = t->src = t->dst = t->len = t->status = 0;
	t->io_scratch = 0;
	pthread_mutex_unlock(&t->lock);
}

static void testdev_destroy(struct pci_dev *dev)
{
	struct testdev *t = dev->priv;

	pthread_mutex_destroy(&t->lock);
	free(t);
}

static const struct pci_dev_ops testdev_ops = {
	.bar_read = testdev_bar_read,
	.bar_write = testdev_bar_write,
	.reset = testdev_reset,
	.destroy = testdev_destroy,
};

int pci_testdev_build(struct pci_root *root, struct pci_dev **out)
{
	struct testdev *t = calloc(1, sizeof(*t));
	struct pci_dev_info info = {
		.name = "testdev",
		.vendor = PCI_VENDOR_REDHAT,
		.device = TESTDEV_DEVICE_ID,
		.subsys_vendor = PCI_VENDOR_REDHAT,
		.subsys = TESTDEV_DEVICE_ID,
		.class_code = TESTDEV_CLASS,
		.revision = 1,
		.ops = &testdev_ops,
		.priv = t,
	};
	struct pci_dev *dev;
	uint16_t vndr;
	int r;

	if (!t) {
		log_err("pci: out of memory for the test device");
		return -ENOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	r = pci_dev_create(root, &info, &dev);
	if (r) {
		pthread_mutex_destroy(&t->lock);
		free(t);
		return r;
	}
	/* From here the device owns t: teardown frees it through testdev_destroy(). */
	t->dev = dev;
	if ((r = pci_bar_init(dev, 0, PCI_BAR_MEM64, TESTDEV_BAR0_SIZE, false)) ||
	    (r = pci_bar_init(dev, 2, PCI_BAR_IO, TESTDEV_BAR2_SIZE, false)) ||
	    (r = pci_rom_init(dev, TESTDEV_ROM_SIZE)) ||
	    (r = pci_cap_add_pcie(dev, PCI_EXP_TYPE_ENDPOINT, NULL)) ||
	    (r = pci_msi_init(dev, 0, 1, PCI_MSI_64BIT | PCI_MSI_MASKABLE, NULL)) ||
	    (r = pci_msix_init(dev, 0, TESTDEV_NR_VECTORS, 0, TESTDEV_MSIX_TABLE, 0,
	                       TESTDEV_MSIX_PBA, NULL)) ||
	    (r = pci_ext_cap_add(dev, PCI_EXT_CAP_ID_VNDR, 1, 8, &vndr)) ||
	    (r = pci_cfg_init(dev, vndr + 4, 4, TESTDEV_ID_VALUE, 0, 0)))
		return r;
	*out = dev;
	return 0;
}

int pci_testdev_create(struct pci_root *root, struct pci_port *port, struct pci_dev **out)
{
	struct pci_dev *dev;
	int r;

	if ((r = pci_testdev_build(root, &dev)) || (r = pci_attach(root, port, dev)))
		return r;
	*out = dev;
	return 0;
}
