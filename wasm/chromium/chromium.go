// Package chromium starts a headless Chromium and drives it over the
// DevTools protocol (CDP), for tests that need a real browser: the
// GOOS=js test runner (wasm/chromeexec) and the browser example's test.
//
// It speaks CDP over --remote-debugging-pipe (NUL-separated JSON on file
// descriptors 3 and 4) rather than a WebSocket: no port to discover or
// race for, nothing listening, and no dependency (chromedp would add a
// module tree for the handful of commands used here).
package chromium

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Flags are the command-line flags every launch uses. Without the
// background-networking ones Chromium fights a closed network (it retries
// component updates, sync and QUIC probes).
var Flags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-dev-shm-usage", "--disable-background-timer-throttling",
	"--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
	"--remote-debugging-pipe",
}

// Find returns the Chromium binary: $KALAM_CHROMIUM, else the first of
// chromium, chromium-browser, google-chrome on PATH.
func Find() (string, error) {
	if p := os.Getenv("KALAM_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium: no browser found (apt-get install -y chromium, or set KALAM_CHROMIUM)")
}

// Browser is a running Chromium with a fresh profile.
type Browser struct {
	cmd     *exec.Cmd
	profile string
	w       io.WriteCloser

	mu       sync.Mutex
	nextID   int64
	pending  map[int64]chan reply
	sessions map[string]*Tab
	err      error // set when the pipe ended
	done     chan struct{}
	stderr   *tail
}

type reply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type frame struct {
	ID        int64           `json:"id"`
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params"`
	SessionID string          `json:"sessionId"`
	reply
}

// Launch starts Chromium with Flags, a fresh --user-data-dir and extra.
func Launch(extra ...string) (*Browser, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	profile, err := os.MkdirTemp("", "kalam-chromium-")
	if err != nil {
		return nil, fmt.Errorf("chromium: profile directory: %w", err)
	}
	args := append(append(append([]string{}, Flags...), "--user-data-dir="+profile), extra...)
	args = append(args, "about:blank")
	cmd := exec.Command(bin, args...)
	// fd 3: Chromium reads commands; fd 4: Chromium writes replies.
	cmdR, ourW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	ourR, cmdW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{cmdR, cmdW}
	b := &Browser{cmd: cmd, profile: profile, w: ourW, pending: map[int64]chan reply{},
		sessions: map[string]*Tab{}, done: make(chan struct{}), stderr: &tail{}}
	cmd.Stderr = b.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("chromium: starting %s: %w", bin, err)
	}
	cmdR.Close()
	cmdW.Close()
	go b.readLoop(ourR)
	return b, nil
}

func (b *Browser) readLoop(r io.ReadCloser) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 1<<16)
	var err error
	for {
		var msg []byte
		msg, err = br.ReadBytes(0)
		if err != nil {
			break
		}
		var f frame
		if jerr := json.Unmarshal(msg[:len(msg)-1], &f); jerr != nil {
			err = fmt.Errorf("chromium: undecodable DevTools message: %w", jerr)
			break
		}
		b.mu.Lock()
		if f.Method == "" {
			ch := b.pending[f.ID]
			delete(b.pending, f.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- f.reply
			}
			continue
		}
		tab := b.sessions[f.SessionID]
		b.mu.Unlock()
		if tab != nil && tab.onEvent != nil {
			tab.onEvent(f.Method, f.Params)
		}
	}
	if err == io.EOF {
		err = fmt.Errorf("chromium: the browser closed the DevTools pipe (stderr: %s)", b.stderr.String())
	}
	b.mu.Lock()
	b.err = err
	for id, ch := range b.pending {
		close(ch)
		delete(b.pending, id)
	}
	b.mu.Unlock()
	close(b.done)
}

// call sends one command (to the browser when session is "") and waits.
func (b *Browser) call(ctx context.Context, session, method string, params, result any) error {
	if params == nil {
		params = struct{}{}
	}
	ch := make(chan reply, 1)
	b.mu.Lock()
	if b.err != nil {
		b.mu.Unlock()
		return b.err
	}
	b.nextID++
	id := b.nextID
	b.pending[id] = ch
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params, "sessionId": session})
	if err == nil {
		_, err = b.w.Write(append(msg, 0))
	}
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("chromium: sending %s: %w", method, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return fmt.Errorf("chromium: %s: %w", method, b.closedErr())
		}
		if r.Error != nil {
			return fmt.Errorf("chromium: %s: %s (%d)", method, r.Error.Message, r.Error.Code)
		}
		if result != nil {
			return json.Unmarshal(r.Result, result)
		}
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		return fmt.Errorf("chromium: %s: %w", method, ctx.Err())
	}
}

func (b *Browser) closedErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Done is closed when the DevTools pipe ends (the browser exited or crashed).
func (b *Browser) Done() <-chan struct{} { return b.done }

// Close ends the browser and removes its profile.
func (b *Browser) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = b.call(ctx, "", "Browser.close", nil, nil)
	select {
	case <-b.done:
	case <-ctx.Done():
	}
	if b.cmd.Process != nil {
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	}
	_ = b.cmd.Wait()
	b.w.Close()
	return os.RemoveAll(b.profile)
}

// Tab is one page target with its own DevTools session.
type Tab struct {
	b        *Browser
	targetID string
	session  string
	onEvent  func(method string, params json.RawMessage)
}

// NewTab opens about:blank in a new target. onEvent, if not nil, receives
// the tab's events on the reader goroutine: it must not block nor call
// back into the browser.
func (b *Browser) NewTab(ctx context.Context, onEvent func(method string, params json.RawMessage)) (*Tab, error) {
	var created struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &created); err != nil {
		return nil, err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	// A fresh session sends no events until a domain is enabled, so
	// registering it after the reply loses none.
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": created.TargetID, "flatten": true}, &attached); err != nil {
		return nil, err
	}
	t := &Tab{b: b, targetID: created.TargetID, session: attached.SessionID, onEvent: onEvent}
	b.mu.Lock()
	b.sessions[t.session] = t
	b.mu.Unlock()
	return t, nil
}

// Call sends a command to the tab and decodes its result into result
// (which may be nil).
func (t *Tab) Call(ctx context.Context, method string, params, result any) error {
	return t.b.call(ctx, t.session, method, params, result)
}

// Eval evaluates a JavaScript expression, awaiting it when it is a
// promise, and decodes its JSON value into result (which may be nil).
func (t *Tab) Eval(ctx context.Context, expr string, result any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *ExceptionDetails `json:"exceptionDetails"`
	}
	if err := t.Call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("chromium: evaluating %q: %s", expr, r.ExceptionDetails)
	}
	if result != nil && len(r.Result.Value) > 0 {
		return json.Unmarshal(r.Result.Value, result)
	}
	return nil
}

// Close closes the tab.
func (t *Tab) Close(ctx context.Context) error {
	err := t.b.call(ctx, "", "Target.closeTarget", map[string]any{"targetId": t.targetID}, nil)
	t.b.mu.Lock()
	delete(t.b.sessions, t.session)
	t.b.mu.Unlock()
	return err
}

// ExceptionDetails is CDP's Runtime.ExceptionDetails, as much as is shown.
type ExceptionDetails struct {
	Text      string `json:"text"`
	URL       string `json:"url"`
	Line      int    `json:"lineNumber"`
	Exception *struct {
		Description string `json:"description"`
	} `json:"exception"`
}

func (e *ExceptionDetails) String() string {
	s := e.Text
	if e.Exception != nil && e.Exception.Description != "" {
		s += " " + e.Exception.Description
	}
	if e.URL != "" {
		s += fmt.Sprintf(" (%s:%d)", e.URL, e.Line+1)
	}
	return s
}

// tail keeps the last few KB of Chromium's stderr for error messages.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
