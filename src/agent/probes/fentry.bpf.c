/*
 * fentry.bpf.c - the fentry upgrade probe (upgrade.bpf.h): an fentry program on
 * security_bprm_check (the exec path). The kernel refuses it with EPERM or ENOTSUP where BPF
 * trampolines are not allowed; then the agent runs in ebpf-tracepoint mode.
 */
#include "upgrade.bpf.h"

SEC("fentry/security_bprm_check")
int BPF_PROG(vig_fentry_probe, struct linux_binprm *bprm)
{
	vig_count_hit();
	return 0;
}
