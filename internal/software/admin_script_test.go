package software

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The admin bootstrap scripts run here for real, under sh and bash,
// against stub CLIs on PATH that behave as the real ones do (GoToSocial's
// as observed on its 0.20.0-rc1 binary, see gtsAdminScript). Each stub
// appends its arguments to calls.log, so the tests see what the script
// asked of the server.

// runScript runs script with shell in dir and returns its exit code,
// combined output and the calls the stubs logged.
func runScript(t *testing.T, shell, script, dir string, env map[string]string) (int, string, []string) {
	t.Helper()
	if _, err := exec.LookPath(shell); err != nil {
		t.Skipf("%s not installed", shell)
	}
	cmd := exec.Command(shell, "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + filepath.Join(dir, "stubs") + ":" + os.Getenv("PATH"), "TMPDIR=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	logged, _ := os.ReadFile(filepath.Join(dir, "calls.log"))
	return code, string(out), strings.Split(strings.TrimSpace(string(logged)), "\n")
}

func writeStub(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// gtsStub behaves like `gotosocial admin ...`: create fails for a username
// in use, export writes the accounts and users as JSON lines.
func gtsStub(t *testing.T, dir string, existingEmail string) string {
	stub := filepath.Join(dir, "stubs", "gotosocial")
	export := ""
	if existingEmail != "" {
		export = `{"type":"account","id":"01ACC","username":"admin","locked":false}
{"type":"account","id":"01OTHER","username":"someone"}
{"type":"user","id":"01USR","accountID":"01ACC","email":"` + existingEmail + `","unconfirmedEmail":"x@y.example"}
{"type":"user","id":"01USR2","accountID":"01OTHER","email":"admin@riverside.example"}`
	}
	writeStub(t, stub, `echo "$*" >> calls.log
case "$1 $2 $3" in
"admin account create")
  if [ -n '`+existingEmail+`' ]; then echo "error executing command: username admin is already in use" >&2; exit 1; fi ;;
"admin export --path")
  cat > "$4" <<'JSON'
`+export+`
JSON
  ;;
esac
exit 0
`)
	return stub
}

func TestGoToSocialAdminScript(t *testing.T) {
	env := map[string]string{"ADMIN_USERNAME": "admin", "ADMIN_EMAIL": "Admin@Riverside.example", "ADMIN_PASSWORD": "pw"}
	for _, tc := range []struct {
		name, existing string
		code           int
		calls          []string
	}{
		{"new account", "", 0, []string{"admin account create", "admin account confirm", "admin account promote"}},
		{"own account from an earlier run", "admin@riverside.example", 0, []string{"admin account create", "admin export", "admin account password", "admin account confirm", "admin account promote"}},
		{"taken by a stranger", "mallory@evil.example", AdminMismatchExitCode, []string{"admin account create", "admin export"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			stub := gtsStub(t, dir, tc.existing)
			script := strings.ReplaceAll(gtsAdminScript, gtsBinary, stub)
			code, out, calls := runScript(t, "sh", script, dir, env)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; output:\n%s", code, tc.code, out)
			}
			if len(calls) != len(tc.calls) {
				t.Fatalf("calls %q, want %q", calls, tc.calls)
			}
			for i, want := range tc.calls {
				if !strings.HasPrefix(calls[i], want) {
					t.Errorf("call %d = %q, want %q…", i, calls[i], want)
				}
			}
			if tc.code == AdminMismatchExitCode {
				if !strings.Contains(out, "AdminAccountMismatch: account admin already exists") {
					t.Errorf("output lacks the reason:\n%s", out)
				}
				if strings.Contains(out, tc.existing) {
					t.Errorf("the stranger's email is printed to the log:\n%s", out)
				}
			}
		})
	}
}

func TestMastodonAccountScript(t *testing.T) {
	env := map[string]string{"ADMIN_USERNAME": "admin", "ADMIN_EMAIL": "admin@riverside.example"}
	for _, tc := range []struct {
		name, existing string
		code           int
		calls          []string
	}{
		{"new account", "", 0, []string{"bundle exec rails runner", "tootctl accounts create admin"}},
		{"own account from an earlier run", "ADMIN@riverside.example", 0, []string{"bundle exec rails runner", "tootctl accounts modify admin --role Owner"}},
		{"taken by a stranger", "mallory@evil.example", AdminMismatchExitCode, []string{"bundle exec rails runner"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// rails runner prints a warning line first, as Rails may.
			writeStub(t, filepath.Join(dir, "stubs", "bundle"), `echo "bundle $*" >> calls.log
echo "W, warning: something on stdout"
printf 'fedcommons-email:%s' '`+tc.existing+`'
`)
			writeStub(t, filepath.Join(dir, "bin", "tootctl"), `echo "tootctl $*" >> calls.log
if [ "$2" = create ]; then echo "OK"; echo "New password: s3cret"; fi
`)
			code, out, calls := runScript(t, "bash", mastodonAccountScript, dir, env)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; output:\n%s", code, tc.code, out)
			}
			if len(calls) != len(tc.calls) {
				t.Fatalf("calls %q, want %q", calls, tc.calls)
			}
			for i, want := range tc.calls {
				if !strings.HasPrefix(calls[i], want) {
					t.Errorf("call %d = %q, want %q…", i, calls[i], want)
				}
			}
			if strings.Contains(out, "s3cret") {
				t.Errorf("the generated password reaches the log:\n%s", out)
			}
			if tc.existing != "" && strings.Contains(out, tc.existing) {
				t.Errorf("the account's email is printed to the log:\n%s", out)
			}
		})
	}
}
