/*
 * lsm.bpf.c - the BPF LSM upgrade probe (upgrade.bpf.h): an LSM program on bprm_check_security.
 * It needs CONFIG_BPF_LSM and "bpf" in the active LSM list (else EPERM, ENOTSUP or EINVAL). It
 * never changes the decision: it returns the verdict of the programs before it.
 */
#include "upgrade.bpf.h"

SEC("lsm/bprm_check_security")
int BPF_PROG(vig_lsm_probe, struct linux_binprm *bprm, int ret)
{
	vig_count_hit();
	return ret;
}
