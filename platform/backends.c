/* SPDX-License-Identifier: MIT */
/* The hypervisor backends compiled in, and choosing one at run time. */
#include <errno.h>
#include <string.h>

#include "platform/platform.h"
#include "hv-kvm/hv_kvm.h"
#include "hv-mshv/hv_mshv.h"

#ifdef HVMM_WITH_MSHV_SIM
/*
 * The test build (hvmm-sim, `make hvmm-sim`): hv-mshv on the /dev/mshv simulator of
 * tests/mshv-sim, which runs on KVM.  Never in the release binary; never chosen by auto.
 */
extern const struct hv_ops hv_mshv_sim_ops;
#endif

const struct hv_ops *const hv_backends[] = {
	&hv_kvm_ops,
	&hv_mshv_ops,
#ifdef HVMM_WITH_MSHV_SIM
	&hv_mshv_sim_ops,
#endif
	NULL,
};

static const char *hv_absent_reason(const char *name)
{
	if (!strcmp(name, "kvm"))
		return "no usable /dev/kvm: load the kvm module (kvm_intel or kvm_amd), enable "
		       "virtualization in the firmware, and check you may open /dev/kvm";
	if (!strcmp(name, "mshv"))
		return "no /dev/mshv: this host is not running as a Microsoft Hypervisor root "
		       "partition";
	if (!strcmp(name, "mshv-sim"))
		return "no usable /dev/kvm, which the /dev/mshv simulator runs on";
	return "not available on this host";
}

int hv_select(const char *name, const struct hv_ops **out)
{
	bool any = !name || !strcmp(name, "auto");

	for (size_t i = 0; hv_backends[i]; i++) {
		const struct hv_ops *hv = hv_backends[i];

		if (!any && strcmp(hv->name, name))
			continue;
		if (any && strstr(hv->name, "-sim"))
			continue; /* a simulator is only ever asked for by name */
		if (hv->probe() == 0) {
			*out = hv;
			return 0;
		}
		if (!any) {
			log_err("%s", hv_absent_reason(name));
			return -ENODEV;
		}
	}
	if (any) {
		log_err("no hypervisor found: %s; or %s", hv_absent_reason("kvm"),
		        hv_absent_reason("mshv"));
		return -ENODEV;
	}
	/* Named but not compiled in (mshv before its backend exists). */
	log_err("%s", hv_absent_reason(name));
	return -ENODEV;
}
