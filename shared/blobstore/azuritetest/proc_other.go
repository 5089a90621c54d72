//go:build !linux

package azuritetest

import "os/exec"

// setProcAttr: without Linux process-group and parent-death support, only
// the Azurite process itself is managed.
func setProcAttr(cmd *exec.Cmd) {}

func killTree(cmd *exec.Cmd) { cmd.Process.Kill() }
