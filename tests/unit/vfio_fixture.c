/* SPDX-License-Identifier: MIT */
/* The assigned-device fixture of test_vfio_pci (vfio_fixture.h). */
#include <stdlib.h>

#include "tests/unit/vfio_fixture.h"

struct fake_vfio fv;
struct vm *vm;
struct pc *pc;
struct vfio_pci *vp;

static struct vfio_container *cont;
static const struct hv_ops *hv;
/* Why the hypervisor is missing, for the skip line: its probe's answer. */
static int hv_probe_err;

bool vfio_fixture_on_fake(void)
{
	return hv == &fake_hv_ops;
}

/*
 * No such hypervisor on this host: say why on a TAP comment line of its own (cmocka's skip
 * line carries only the test's name; tests/tap.awk pairs the two).
 */
void vfio_fixture_skip(void)
{
	printf("# skip: no usable /dev/kvm on this host for %s (probe: %s); make e2e runs this "
	       "test on real KVM in the nested host\n",
	       hv->name, strerror(-hv_probe_err));
}

/* Assign the fake device by hand, as vfio_assign_all() does for the real host. */
int vfio_fixture_setup(void **state)
{
	const struct vfio_env *env = *state;
	const struct vfio_bdf bdf = { 0, 1, 0, 0 };
	struct vm_config cfg = { .hypervisor = "test",
		                 .mem_size = MiB(16),
		                 .nr_cpus = 1,
		                 .kernel = "none",
		                 .cmdline = "",
		                 .serial = SERIAL_NONE };

	hv = env->hv;
	fake_hv_reset();
	fake_vfio_init(&fv);
	if (env->prep)
		env->prep(&fv.dev[0]);
	log_set_level(LOG_ERR);
	hv_probe_err = hv->probe();
	if (hv_probe_err) {
		vm = NULL;
		return 0; /* the test reports the skip */
	}
	if (pc_create(&cfg, hv, &pc))
		return -1;
	vm = pc->vm;
	cont = calloc(1, sizeof(*cont));
	vp = calloc(1, sizeof(*vp));
	if (!cont || !vp || vfio_container_open(&fake_vfio_sys, cont))
		return -1;
	if (vfio_device_open(cont, &bdf, &vp->dev) || vfio_pci_create(vm, pc->pci, vp) ||
	    vfio_bars_mmap(vp) || pci_attach(pc->pci, NULL, vp->pdev) || vfio_intx_attach(vp))
		return -1;
	return 0;
}

int vfio_fixture_teardown(void **state)
{
	(void)state;
	if (!vm)
		return 0;
	vfio_intr_disable(vp);
	/* The PCI core releases the function (vfio_pci_release) before the container goes. */
	vm_destroy(vm);
	vfio_container_close(cont);
	free(cont);
	assert_int_equal(fv.open_fds, 0);
	return 0;
}

uint32_t cfg_rd(uint32_t off, uint32_t len)
{
	uint32_t v = 0;

	assert_int_equal(pci_cfg_read(vp->pdev, off, len, &v), 0);
	return v;
}

void cfg_wr(uint32_t off, uint32_t len, uint32_t v)
{
	assert_int_equal(pci_cfg_write(vp->pdev, off, len, v), 0);
}

void enable_bar0(void)
{
	struct pci_dev *port = pci_port_dev(vp->pdev->port);

	assert_int_equal(pci_cfg_write(port, PCI_PRIMARY_BUS, 4, 0x00010100), 0);
	assert_int_equal(pci_cfg_write(port, PCI_MEMORY_BASE, 2, 0xc000), 0);
	assert_int_equal(pci_cfg_write(port, PCI_MEMORY_LIMIT, 2, 0xc0f0), 0);
	assert_int_equal(
	    pci_cfg_write(port, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), 0);
	cfg_wr(PCI_BASE_ADDRESS_0, 4, (uint32_t)BAR0_GPA);
	cfg_wr(PCI_BASE_ADDRESS_1, 4, 0);
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

void msix_entry(unsigned i, uint32_t data, bool masked)
{
	uint64_t base = BAR0_GPA + 0x2000 + 16ull * i;
	uint32_t addr = 0xfee00000, zero = 0, ctl = masked;

	bus_access(&vm->mmio, base, &addr, 4, true);
	bus_access(&vm->mmio, base + 4, &zero, 4, true);
	bus_access(&vm->mmio, base + 8, &data, 4, true);
	bus_access(&vm->mmio, base + 12, &ctl, 4, true);
}

int host_fd(unsigned index, unsigned i)
{
	return fake_vfio_trigger(&fv.dev[0], index, i);
}

struct vfio_pci *vfio_fixture_assign(const char *name, int group, unsigned slot)
{
	struct vfio_bdf bdf;
	struct vfio_pci *v;
	struct pci_port *port;
	char pname[32];

	fake_vfio_add_dev(&fv, name, group);
	if (vfio_bdf_parse(name, &bdf) || !(v = calloc(1, sizeof(*v))))
		return NULL;
	/* Ports of their own up to the slot before: the device's port lands at `slot`. */
	for (unsigned s = 2; s < slot; s++) {
		snprintf(pname, sizeof(pname), "filler%u", s);
		if (pci_root_port_create(pc->pci, pname, &port))
			return NULL;
	}
	if (vfio_device_open(cont, &bdf, &v->dev) || vfio_pci_create(vm, pc->pci, v) ||
	    vfio_bars_mmap(v) || pci_attach(pc->pci, NULL, v->pdev) || vfio_intx_attach(v))
		return NULL;
	return (v->pdev->port && pci_port_dev(v->pdev->port)->devfn >> 3 == slot) ? v : NULL;
}
