package azuritetest

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts Azurite in its own process group so cleanup can kill
// node and anything it spawned; the parent-death signal is a backstop when
// the test binary dies without running cleanup.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killTree kills the whole process group (negative pid).
func killTree(cmd *exec.Cmd) { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
