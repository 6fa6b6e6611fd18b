/*
 * Adding and removing assigned devices while the VM runs, through the API's requests as a
 * client sends them: a VM on the fake hypervisor running in vm_run() (whose thread does the
 * privileged steps), a fake VFIO kernel, and a "guest" thread that releases a device the way
 * Linux's pciehp does once the attention button is pressed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "devices/pci/internal.h"
#include "devices/vfio/internal.h"
#include "platform/internal.h"
#include "tests/unit/unit.h"

static struct fake_vfio fv;
static struct pc *pc;
static pthread_t runner, guest;
static _Atomic bool guest_quit, guest_releases;
static int exit_code;

static void *run_vm(void *arg)
{
	(void)arg;
	if (vm_run(pc->vm, -1, &exit_code))
		exit_code = -1;
	return NULL;
}

static struct pci_dev *port_dev(const char *name)
{
	struct pci_port *p;

	assert_int_equal(pci_root_port_find(pc->pci, name, &p), 0);
	return pci_port_dev(p);
}

/*
 * pciehp in miniature: the attention button powers an unpowered slot on (a card arrived)
 * and a powered one off (the device released).
 */
static void *guest_thread(void *arg)
{
	struct pci_dev *pd = port_dev("hp0");
	uint16_t c = pd->pcie_cap;

	(void)arg;
	while (!atomic_load(&guest_quit)) {
		uint32_t sta = 0, ctl = 0;

		if (pci_cfg_read(pd, c + PCI_EXP_SLTSTA, 2, &sta) ||
		    pci_cfg_read(pd, c + PCI_EXP_SLTCTL, 2, &ctl))
			break;
		if ((sta & PCI_EXP_SLTSTA_ABP) &&
		    (atomic_load(&guest_releases) || (ctl & PCI_EXP_SLTCTL_PCC))) {
			if (pci_cfg_write(pd, c + PCI_EXP_SLTSTA, 2, sta) ||
			    pci_cfg_write(pd, c + PCI_EXP_SLTCTL, 2, ctl ^ PCI_EXP_SLTCTL_PCC))
				break;
		}
		usleep(5000);
	}
	return NULL;
}

static int setup(void **state)
{
	static const char *const ports[] = { "hp0", "hp1" };

	(void)state;
	fake_hv_reset();
	fake_vfio_init(&fv);
	fake_vfio_use(&fv);
	log_set_level(LOG_ERR);
	if (fake_pc_create_ports(1, MiB(16), ports, 2, true, &pc) || !pc->vfio)
		return -1;
	/* No container yet: the first device opens it, here on the fake VFIO kernel. */
	if (pc->vfio->c.fd >= 0)
		return -1;
	pc->vfio->sys = &fake_vfio_sys;
	atomic_store(&guest_quit, false);
	atomic_store(&guest_releases, true);
	if (pthread_create(&runner, NULL, run_vm, NULL) ||
	    pthread_create(&guest, NULL, guest_thread, NULL))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	atomic_store(&guest_quit, true);
	pthread_join(guest, NULL);
	vm_stop(pc->vm, VM_EXIT_STOPPED);
	pthread_join(runner, NULL);
	vm_destroy(pc->vm);
	return 0;
}

static json_t *req(const char *line)
{
	char *reply;
	json_t *j;

	assert_int_equal(api_request(pc, line, strlen(line), &reply), 0);
	j = json_loads(reply, 0, NULL);
	free(reply);
	assert_non_null(j);
	return j;
}

static json_t *ok(const char *line)
{
	json_t *j = req(line), *r = json_incref(json_object_get(j, "return"));

	if (!r)
		fail_msg("%s: %s", line,
		         json_string_value(json_object_get(json_object_get(j, "error"), "desc")));
	json_decref(j);
	return r;
}

static void refused(const char *line, const char *cls)
{
	json_t *j = req(line);
	const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "class"));

	assert_non_null(c);
	assert_string_equal(c, cls);
	json_decref(j);
}

/* Wait (2 s at most) for the guest to power slot hp0 on after an add. */
static void wait_powered(void)
{
	struct pci_port *p;

	assert_int_equal(pci_root_port_find(pc->pci, "hp0", &p), 0);
	for (int i = 0; i < 400 && !pci_slot_powered(p); i++)
		usleep(5000);
	assert_true(pci_slot_powered(p));
}

static unsigned nr_devices(void)
{
	json_t *r = ok("{\"execute\": \"list\"}");
	unsigned n = (unsigned)json_array_size(json_object_get(r, "devices"));

	json_decref(r);
	return n;
}

/* Added into an empty slot, listed, removed with the guest's consent, added again. */
static void test_add_remove_add(void **state)
{
	unsigned fds0 = fv.open_fds, resets0;
	json_t *r;

	(void)state;
	capture_begin();
	r = ok("{\"execute\": \"add-device\", \"arguments\": {\"bdf\": \"0000:01:00.0\"}}");
	assert_string_equal(json_string_value(json_object_get(r, "port")), "hp0");
	json_decref(r);
	assert_true(fv.dma_maps >= 1); /* guest RAM mapped with the first group */
	assert_true(fv.open_fds > fds0);
	assert_int_equal(nr_devices(), 1);
	assert_true(pci_cfg_get(port_dev("hp0"), port_dev("hp0")->pcie_cap + PCI_EXP_SLTSTA, 2) &
	            PCI_EXP_SLTSTA_PDS);
	r = ok("{\"execute\": \"list\"}");
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(r, "devices"), 0), "port")),
	                    "hp0");
	json_decref(r);

	/* The guest powers the slot on at the button that came with the card; then removal. */
	wait_powered();
	resets0 = fv.dev[0].resets;
	r = ok("{\"execute\": \"remove-device\", \"arguments\": {\"bdf\": \"0000:01:00.0\"}}");
	assert_true(json_is_true(json_object_get(r, "released_by_guest")));
	json_decref(r);
	assert_true(fv.dev[0].resets > resets0);
	/* Device and group fds closed, the device the host's again; the container stays. */
	assert_int_equal(fv.open_fds, fds0 + 1);
	assert_int_equal(nr_devices(), 0);
	refused("{\"execute\": \"remove-device\", \"arguments\": {\"bdf\": \"0000:01:00.0\"}}",
	        API_ERR_NOT_FOUND);

	/* Back into the port named, with the IOMMU set up and RAM mapped anew. */
	{
		unsigned maps = fv.dma_maps;

		r = ok("{\"execute\": \"add-device\", \"arguments\": {\"bdf\": \"0000:01:00.0\", "
		       "\"port\": \"hp1\"}}");
		assert_string_equal(json_string_value(json_object_get(r, "port")), "hp1");
		json_decref(r);
		assert_true(fv.dma_maps > maps);
	}
	capture_end();
}

/* Every refusal: bad address, unknown port, full port, twice, unknown device, in use. */
static void test_refusals(void **state)
{
	(void)state;
	capture_begin();
	refused("{\"execute\": \"add-device\"}", API_ERR_BAD_REQUEST);
	refused("{\"execute\": \"add-device\", \"arguments\": {\"bdf\": \"nvme0\"}}",
	        API_ERR_BAD_REQUEST);
	refused("{\"execute\": \"add-device\", \"arguments\": {\"bdf\": 5}}", API_ERR_BAD_REQUEST);
	refused("{\"execute\": \"add-device\", \"arguments\": {\"bdf\": \"01:00.0\", \"port\": "
	        "\"nope\"}}",
	        API_ERR_NOT_FOUND);
	/* An unknown device, then one bound to another driver: nothing left behind. */
	refused("{\"execute\": \"add-device\", \"arguments\": {\"bdf\": \"0000:02:00.0\"}}",
	        API_ERR_NOT_FOUND);
	fv.dev[0].driver = "nvme";
	refused("{\"execute\": \"add-device\", \"arguments\": {\"bdf\": \"0000:01:00.0\"}}",
	        API_ERR_BUSY);
	fv.dev[0].driver = "vfio-pci";
	assert_int_equal(nr_devices(), 0);
	json_decref(ok("{\"execute\": \"add-device\", \"arguments\": {\"bdf\": \"01:00.0\", "
	               "\"port\": \"hp1\"}}"));
	refused("{\"execute\": \"add-device\", \"arguments\": {\"bdf\": \"0000:01:00.0\"}}",
	        API_ERR_BUSY);
	refused("{\"execute\": \"add-device\", \"arguments\": {\"bdf\": \"0000:03:00.0\", "
	        "\"port\": \"hp1\"}}",
	        API_ERR_BUSY);
	refused("{\"execute\": \"remove-device\", \"arguments\": {\"bdf\": \"0000:09:00.0\"}}",
	        API_ERR_NOT_FOUND);
	refused("{\"execute\": \"remove-device\", \"arguments\": {\"bdf\": \"0000:01:00.0\", "
	        "\"port\": \"hp1\"}}",
	        API_ERR_BAD_REQUEST);
	capture_end();
	assert_int_equal(atomic_load(&pc->vm->stopping), 0);
}

/* A guest that does not answer the button: after the wait, the device is pulled anyway. */
static void test_guest_does_not_answer(void **state)
{
	const struct vfio_bdf bdf = { 0, 1, 0, 0 };
	unsigned fds0 = fv.open_fds;
	bool released = true;

	(void)state;
	atomic_store(&guest_releases, false);
	log_set_level(LOG_WARN);
	capture_begin();
	json_decref(
	    ok("{\"execute\": \"add-device\", \"arguments\": {\"bdf\": \"0000:01:00.0\"}}"));
	wait_powered(); /* it powers on; it will not power off */
	assert_int_equal(vfio_hotplug_remove(pc->vfio, &bdf, 100, &released), 0);
	assert_non_null(strstr(capture_end(), "did not release the device within 100 ms"));
	assert_false(released);
	assert_int_equal(fv.open_fds, fds0 + 1); /* only the container stays open */
	assert_false(pci_cfg_get(port_dev("hp0"), port_dev("hp0")->pcie_cap + PCI_EXP_SLTSTA, 2) &
	             PCI_EXP_SLTSTA_PDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_remove_add, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_does_not_answer, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
