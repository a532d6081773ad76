package sdk

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"unicode"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonscan"
	"github.com/kalamstack/kalam-go/transport"
)

// FileRef is the value of a FILE column: where the server stored an
// uploaded file (http-api §7.4).
type FileRef struct {
	// ID is the file's snowflake id.
	ID string `json:"id"`
	// Sub is the storage subfolder, "f" and four digits.
	Sub string `json:"sub"`
	// Name is the original file name.
	Name string `json:"name"`
	// Size is the length in bytes.
	Size int64 `json:"size"`
	// Mime is the media type recorded at upload.
	Mime string `json:"mime"`
	// SHA256 is the lowercase hex digest of the content.
	SHA256 string `json:"sha256"`
	// Shard is set only for sharded SHARED tables.
	Shard *uint32 `json:"shard,omitempty"`
}

// ParseFileRef reads a FILE cell: a JSON string holding FileRef JSON (what
// the server sends) or a FileRef object.
func ParseFileRef(raw []byte) (FileRef, error) {
	var f FileRef
	if len(raw) == 0 || string(raw) == "null" {
		return f, ErrNull
	}
	src := raw
	if raw[0] == '"' {
		s, err := unquote(raw)
		if err != nil {
			return f, err
		}
		src = []byte(s)
	}
	if err := jsonscan.Unmarshal(src, &f); err != nil {
		return f, fmt.Errorf("FILE cell is not a FileRef: %s", snippet(src))
	}
	if f.ID == "" || f.Sub == "" {
		return f, fmt.Errorf("FILE cell lacks id or sub: %s", snippet(src))
	}
	return f, nil
}

// StoredName is the name the server stores the file under, which the
// download URL needs (not ID): "{id}-{sanitized name}.{ext}", or
// "{id}.{ext}" when nothing of the name survives sanitizing. It follows
// FileRef::stored_name in the KalamDB server.
func (f FileRef) StoredName() string {
	base, ext, hasExt := f.Name, "bin", false
	if i := strings.LastIndexByte(f.Name, '.'); i >= 0 {
		base, ext, hasExt = f.Name[:i], strings.ToLower(f.Name[i+1:]), true
	}
	if hasExt && (len(ext) > 10 || !isASCIIAlnum(ext)) {
		ext = "bin"
	}
	// Keep lower-cased ASCII letters and digits, turn space, '_' and '-'
	// into '-', drop the rest; take 50; then collapse and trim dashes.
	kept := make([]byte, 0, 50)
	for _, r := range base {
		if len(kept) == 50 {
			break
		}
		switch {
		case r < 128 && isASCIIAlnum(string(r)):
			kept = append(kept, byte(unicode.ToLower(r)))
		case r == ' ' || r == '_' || r == '-':
			kept = append(kept, '-')
		}
	}
	out := make([]byte, 0, len(kept))
	lastDash := true // drops leading dashes
	for _, c := range kept {
		if c == '-' {
			if !lastDash {
				out = append(out, c)
			}
			lastDash = true
			continue
		}
		out = append(out, c)
		lastDash = false
	}
	name := strings.TrimRight(string(out), "-")
	if name == "" {
		return f.ID + "." + ext
	}
	return f.ID + "-" + name + "." + ext
}

func isASCIIAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// DownloadPath returns the server path of the file in table namespace.table:
// /v1/files/{namespace}/{table}/{sub}/{stored name}. (The official SDKs build
// /api/v1/files/.../{id}, which the server does not serve.)
func (f FileRef) DownloadPath(namespace, table string) string {
	return "/v1/files/" + escape(namespace, escapeSegmentMode) + "/" + escape(table, escapeSegmentMode) + "/" +
		escape(f.Sub, escapeSegmentMode) + "/" + escape(f.StoredName(), escapeSegmentMode)
}

// FileDownload is an open download. Read the content from it and Close it.
// Reading to the end checks the size and SHA-256 against the FileRef and
// fails with an error if they differ.
type FileDownload struct {
	io.ReadCloser
	// ContentType is the server's guess from the stored name's extension
	// (KalamDB does not echo FileRef.Mime).
	ContentType string
	// ContentLength is the body size, or -1 when the server did not say.
	ContentLength int64
}

// DownloadOption configures Download.
type DownloadOption func(*downloadConfig)

type downloadConfig struct{ userID string }

// ForUser downloads from another user's area of a USER table (sent as
// ?user_id=); the caller's role must be allowed to impersonate that user.
func ForUser(userID string) DownloadOption {
	return func(d *downloadConfig) { d.userID = userID }
}

// Download streams the file ref points to, from table namespace.table, with
// the client's credentials. The client's timeout covers the request until
// the response headers arrive; the body is bounded only by ctx.
func (c *Client) Download(ctx context.Context, namespace, table string, ref FileRef, opts ...DownloadOption) (*FileDownload, error) {
	if namespace == "" || table == "" {
		return nil, errors.New("sdk: Download: namespace and table are required")
	}
	if ref.ID == "" || ref.Sub == "" {
		return nil, errors.New("sdk: Download: FileRef has no id or sub (parse it from a FILE column)")
	}
	var cfg downloadConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	p := ref.DownloadPath(namespace, table)
	if cfg.userID != "" {
		p += "?user_id=" + escape(cfg.userID, escapeQueryMode)
	}
	ctx, cancel, stopTimer, err := c.boundContext(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, &request{method: "GET", path: p, authed: true, idempotent: true})
	// The timeout covers the exchange up to the headers; the body lives on
	// ctx (and the client's lifetime) until Close.
	stopTimer()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("sdk: download %s: %w", pathOnly(p), err)
	}
	body := &verifyingReader{r: resp.Body, want: ref, h: newFileHash(), close: func() error {
		err := resp.Body.Close()
		cancel()
		return err
	}}
	return &FileDownload{ReadCloser: body, ContentType: transport.HeaderValue(resp.Header, "Content-Type"), ContentLength: contentLength(resp.Header)}, nil
}

// verifyingReader checks the size and digest of a download at EOF, so a cut
// or corrupted transfer is an error instead of a short file.
type verifyingReader struct {
	r     io.Reader
	want  FileRef
	h     hash.Hash
	n     int64
	close func() error
	once  sync.Once
	cerr  error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.n += int64(n)
	v.h.Write(p[:n])
	if err == io.EOF {
		if v.want.Size > 0 && v.n != v.want.Size {
			return n, fmt.Errorf("sdk: download of %q ended after %d of %d bytes", v.want.Name, v.n, v.want.Size)
		}
		if v.want.SHA256 != "" && !strings.EqualFold(hex.EncodeToString(v.h.Sum(nil)), v.want.SHA256) {
			return n, fmt.Errorf("sdk: download of %q does not match its SHA-256", v.want.Name)
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error {
	v.once.Do(func() { v.cerr = v.close() })
	return v.cerr
}

// ---- uploads ----

// File attaches a file for the placeholder FILE("placeholder") in the SQL
// and sends the query as multipart/form-data. The content is streamed from
// r, never held whole in memory. mimeType may be empty (the server then
// sniffs it). If r is an io.Seeker the upload can be resent after the token
// expired or the server rate-limited it; otherwise such a failure is
// returned with ErrBodyNotReplayable. Query reads r only while it runs
// (it waits for a pending Read to return before it returns). Write the
// placeholder exactly as FILE("name"): the server substitutes only that
// spelling.
func File(placeholder, filename, mimeType string, r io.Reader) QueryOption {
	return func(q *queryConfig) error {
		switch {
		case placeholder == "":
			return errors.New("sdk: File: empty placeholder name")
		case r == nil:
			return fmt.Errorf("sdk: File %q: reader is nil", placeholder)
		}
		for _, f := range q.files {
			if f.placeholder == placeholder {
				return fmt.Errorf("sdk: File %q given twice", placeholder)
			}
		}
		if strings.ContainsAny(mimeType, "\r\n") {
			return fmt.Errorf("sdk: File %q: MIME type %q contains a line break", placeholder, mimeType)
		}
		if filename == "" {
			filename = placeholder
		}
		q.files = append(q.files, &fileUpload{placeholder: placeholder, filename: filename, mime: mimeType, r: r})
		q.newUpload = newUpload
		return nil
	}
}

// UploadProgress reports how much of one file has been sent.
type UploadProgress struct {
	// FileIndex is the file's position among the query's File options (0-based).
	FileIndex int
	// Placeholder and FileName identify the file.
	Placeholder, FileName string
	// BytesSent counts the file's bytes handed to the transport.
	BytesSent int64
	// TotalBytes is the file's size, or -1 when the reader cannot tell.
	TotalBytes int64
}

// OnUploadProgress calls fn as file content is sent (about every 32 KiB and
// once at the end of each file). fn runs on the goroutine that writes the
// request body and must return quickly.
func OnUploadProgress(fn func(UploadProgress)) QueryOption {
	return func(q *queryConfig) error {
		q.progress = fn
		return nil
	}
}

type fileUpload struct {
	placeholder, filename, mime string
	r                           io.Reader
	size                        int64 // -1 unknown
	start                       int64 // seek position at first use
	seekable                    bool
	used                        bool
}

type upload struct {
	sql, namespace string
	params         []byte
	files          []*fileUpload
	progress       func(UploadProgress)
	boundary       string
	overhead       int64 // multipart bytes around the file contents

	// the writer goroutine of the latest attempt
	pr     *io.PipeReader
	writer chan struct{}
}

// release stops the latest attempt's writer goroutine and waits for it, so
// no file reader is touched after Query returns or while it is rewound.
func (u *upload) release() {
	if u.pr == nil {
		return
	}
	u.pr.CloseWithError(errUploadReleased)
	<-u.writer
	u.pr, u.writer = nil, nil
}

var errUploadReleased = errors.New("sdk: upload attempt finished")

func newUpload(sql string, params []byte, namespace string, files []*fileUpload, progress func(UploadProgress)) (*upload, error) {
	u := &upload{sql: sql, params: params, namespace: namespace, files: files, progress: progress}
	// The boundary only has to be absent from the content: 128 bits from
	// math/rand/v2 (ChaCha8, seeded by the runtime from the system's
	// entropy) do that as well as crypto/rand, which would add its
	// DRBG and AES to browser builds.
	var rb [16]byte
	binary.LittleEndian.PutUint64(rb[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(rb[8:], rand.Uint64())
	u.boundary = "kalam-go-" + hex.EncodeToString(rb[:])
	known := true
	for _, f := range files {
		f.size = -1
		if s, ok := f.r.(io.Seeker); ok {
			pos, err := s.Seek(0, io.SeekCurrent)
			if err == nil {
				end, err2 := s.Seek(0, io.SeekEnd)
				_, err3 := s.Seek(pos, io.SeekStart)
				if err2 == nil && err3 == nil {
					f.start, f.size, f.seekable = pos, end-pos, true
				} else if err3 != nil {
					return nil, fmt.Errorf("sdk: File %q: seeking back to the start: %w", f.placeholder, err3)
				}
			}
		} else if l, ok := f.r.(interface{ Len() int }); ok {
			f.size = int64(l.Len())
		}
		if f.size < 0 {
			known = false
		}
	}
	if known {
		// Write the parts with empty contents to learn the exact length, so
		// the server's body-size check (which needs Content-Length) applies
		// and the transport need not chunk.
		cw := &countWriter{}
		if err := u.write(cw, true); err != nil {
			return nil, err
		}
		u.overhead = cw.n
	} else {
		u.overhead = -1
	}
	return u, nil
}

// body is the request-body factory: each call rewinds seekable readers and
// streams the multipart form through a pipe.
func (u *upload) body() (requestBody, error) {
	u.release()
	replayable := true
	for _, f := range u.files {
		if f.used {
			if !f.seekable {
				return requestBody{}, fmt.Errorf("%w: File %q was already read and is not an io.Seeker", ErrBodyNotReplayable, f.placeholder)
			}
			if _, err := f.r.(io.Seeker).Seek(f.start, io.SeekStart); err != nil {
				return requestBody{}, fmt.Errorf("sdk: File %q: rewinding for a resend: %w", f.placeholder, err)
			}
		}
		f.used = true
		replayable = replayable && f.seekable
	}
	size := int64(-1)
	if u.overhead >= 0 {
		size = u.overhead
		for _, f := range u.files {
			size += f.size
		}
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	u.pr, u.writer = pr, done
	go func() {
		defer close(done)
		pw.CloseWithError(u.write(pw, false))
	}()
	return requestBody{r: pr, size: size, contentType: "multipart/form-data; boundary=" + u.boundary, replayable: replayable}, nil
}

// write emits the form in the order the official client uses: sql, params,
// namespace_id, then one file:<placeholder> part per file. With dry set it
// writes no file contents (to measure the overhead).
func (u *upload) write(w io.Writer, dry bool) error {
	fw := formWriter{w: w, boundary: u.boundary}
	fw.field("sql", u.sql)
	if len(u.params) > 0 {
		fw.field("params", string(u.params))
	}
	if u.namespace != "" {
		fw.field("namespace_id", u.namespace)
	}
	for i, f := range u.files {
		mime := f.mime
		if mime == "" {
			mime = "application/octet-stream"
		}
		fw.part(`form-data; name="`+quoteEscaper.Replace("file:"+f.placeholder)+`"; filename="`+quoteEscaper.Replace(f.filename)+`"`, mime)
		if fw.err != nil {
			return fw.err
		}
		if dry {
			continue
		}
		pw := &progressWriter{w: w, report: u.progress, p: UploadProgress{FileIndex: i, Placeholder: f.placeholder, FileName: f.filename, TotalBytes: f.size}}
		// Copy in fixed chunks (hiding WriterTo) so progress is reported
		// as the content flows rather than once per file.
		n, err := io.CopyBuffer(pw, struct{ io.Reader }{f.r}, make([]byte, progressChunk))
		if err != nil {
			return fmt.Errorf("sdk: File %q: reading after %d bytes: %w", f.placeholder, n, err)
		}
		if f.size >= 0 && n != f.size {
			return fmt.Errorf("sdk: File %q: reader gave %d bytes, expected %d", f.placeholder, n, f.size)
		}
		pw.final()
	}
	fw.write("\r\n--" + fw.boundary + "--\r\n")
	return fw.err
}

// formWriter writes multipart/form-data (RFC 7578) byte for byte as
// mime/multipart.Writer does. It replaces that package because
// mime/multipart links net and net/textproto into browser builds (about
// 0.5 MB of wasm) for the few lines needed here.
type formWriter struct {
	w        io.Writer
	boundary string
	parts    int
	err      error // sticky: the first write error
}

func (f *formWriter) write(s string) {
	if f.err == nil {
		_, f.err = io.WriteString(f.w, s)
	}
}

// part starts a part with these headers (in mime/multipart's sorted
// order); its content follows through f.w.
func (f *formWriter) part(disposition, contentType string) {
	sep := "\r\n--"
	if f.parts == 0 {
		sep = "--"
	}
	f.parts++
	h := sep + f.boundary + "\r\nContent-Disposition: " + disposition + "\r\n"
	if contentType != "" {
		h += "Content-Type: " + contentType + "\r\n"
	}
	f.write(h + "\r\n")
}

func (f *formWriter) field(name, value string) {
	f.part(`form-data; name="`+quoteEscaper.Replace(name)+`"`, "")
	f.write(value)
}

const progressChunk = 32 << 10

// quoteEscaper escapes a form-data parameter value as mime/multipart does
// (a strings.Replacer would link all its variants into the browser bundle).
var quoteEscaper quoteEscape

type quoteEscape struct{}

func (quoteEscape) Replace(s string) string {
	if !strings.ContainsAny(s, "\\\"\r\n") {
		return s
	}
	b := make([]byte, 0, len(s)+4)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"':
			b = append(b, '\\', c)
		case '\r', '\n':
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

type progressWriter struct {
	w        io.Writer
	report   func(UploadProgress)
	p        UploadProgress
	reported bool
}

func (pw *progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.p.BytesSent += int64(n)
	if pw.report != nil && n > 0 {
		pw.report(pw.p)
		pw.reported = true
	}
	return n, err
}

// final reports an empty file once, so every file is reported at least once.
func (pw *progressWriter) final() {
	if pw.report != nil && !pw.reported {
		pw.report(pw.p)
	}
}
