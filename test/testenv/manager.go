package testenv

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/netprofile/netprofile/hack/image/imagebuild"
)

// BuildManager builds cmd/manager into out (a path; tests running in parallel packages each use their own)
// for this machine, exactly as make image builds the manager in the image: the binary users run is the one the
// suites run, and the image test's build of it reuses this build's compiled packages.
func BuildManager(out string) error {
	p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	m := imagebuild.Metadata{Version: "v0.0.0-test", Revision: "test", Source: "https://github.com/netprofile/netprofile",
		Repository: "ghcr.io/netprofile/netprofile", Created: time.Unix(0, 0).UTC()}
	_, err := imagebuild.BuildManager(RepoRoot(), p, m, out)
	return err
}

// Manager is one bin/manager process started by a test, with its output collected.
type Manager struct {
	Name string
	Log  *SyncBuffer

	cmd  *exec.Cmd
	done chan struct{}
}

// StartManager starts the manager binary bin with args and exactly the environment env (nothing is
// inherited, so the process reaches only the API server it is told about). It does not wait for readiness.
func StartManager(name, bin string, args, env []string) (*Manager, error) {
	m := &Manager{Name: name, Log: &SyncBuffer{}, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	m.cmd.Env = env
	m.cmd.Stdout, m.cmd.Stderr = m.Log, m.Log
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("failed to start manager %s: %w", name, err)
	}
	go func() {
		_ = m.cmd.Wait()
		close(m.done)
	}()
	return m, nil
}

// Exited reports whether the process has ended.
func (m *Manager) Exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGINT (what the kubelet's SIGTERM does: the manager finishes, releasing its Lease) and waits,
// killing the process after 30 seconds. Stopping an ended process is a no-op.
func (m *Manager) Stop() {
	if m.Exited() {
		return
	}
	_ = m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		m.Kill()
	}
}

// Kill sends SIGKILL (a crash, an OOM kill, a lost node: nothing is cleaned up, the Lease is not released)
// and waits until the process is gone.
func (m *Manager) Kill() {
	if m.Exited() {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.done
}

// LogContains reports whether the manager logged s (JSON escaping of quotes removed first).
func (m *Manager) LogContains(s string) bool {
	return strings.Contains(strings.ReplaceAll(m.Log.String(), `\"`, `"`), s)
}

// Logged reports whether one line of the manager's log holds every one of parts (client-go's leader elector
// logs through klog: `"Successfully acquired lease" lock="<namespace>/<name>"`).
func (m *Manager) Logged(parts ...string) bool {
	for _, line := range strings.Split(m.Log.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// FreeAddr is a free 127.0.0.1 address for a listener of a child process.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// HTTPStatus is the status code of a GET of url (a probe endpoint).
func HTTPStatus(url string) (int, error) {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
