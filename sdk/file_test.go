package sdk_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

func TestStoredNameMatchesServer(t *testing.T) {
	long := strings.Repeat("ab", 40)
	cases := map[string]string{
		"My Report_v2.PDF":    "7-my-report-v2.pdf",
		"test-attachment.txt": "7-test-attachment.txt",
		"файл.txt":            "7.txt",
		"noext":               "7-noext.bin",
		"a.verylongext1":      "7-a.bin",
		"a.tar.gz":            "7-atar.gz",
		"--x__y--.TXT":        "7-x-y.txt",
		"file.":               "7-file.",
		"photo.jp g":          "7-photo.bin",
		long + ".png":         "7-" + long[:50] + ".png",
	}
	for name, want := range cases {
		require.Equal(t, want, sdk.FileRef{ID: "7", Sub: "f0001", Name: name}.StoredName(), name)
	}
	ref := sdk.FileRef{ID: "245730161436188672", Sub: "f0001", Name: "My Report_v2.PDF"}
	require.Equal(t, "/v1/files/app/docs/f0001/245730161436188672-my-report-v2.pdf", ref.DownloadPath("app", "docs"))
}

type parsedPart struct {
	name, filename, contentType string
	body                        []byte
}

func parseMultipart(t *testing.T, contentType string, body io.Reader) []parsedPart {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	require.NoError(t, err)
	require.Equal(t, "multipart/form-data", mt)
	mr := multipart.NewReader(body, params["boundary"])
	var parts []parsedPart
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return parts
		}
		require.NoError(t, err)
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		parts = append(parts, parsedPart{p.FormName(), p.FileName(), p.Header.Get("Content-Type"), b})
	}
}

func TestFileUploadMultipart(t *testing.T) {
	f := newFake(t)
	var contentLength int64
	f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) {
		contentLength = r.ContentLength
		writeJSON(w, 200, `{"status":"success","results":[{"row_count":1,"message":"Inserted 1 row(s)","as_user":"root"}],"took":12.3}`)
	}
	c, _ := newClient(t, f, basic())
	avatar := bytes.Repeat([]byte("PNG!"), 50000) // 200 kB, several progress steps
	var progress []sdk.UploadProgress
	res, err := c.Query(context.Background(), `INSERT INTO app.users (name, avatar, doc) VALUES ($1, FILE("avatar"), FILE("doc"))`,
		sdk.Args("Alice"), sdk.Namespace("app"),
		sdk.File("avatar", "avatar.png", "image/png", bytes.NewReader(avatar)),
		sdk.File("doc", "notes.txt", "", strings.NewReader("")),
		sdk.OnUploadProgress(func(p sdk.UploadProgress) { progress = append(progress, p) }))
	require.NoError(t, err)
	require.Equal(t, "Inserted 1 row(s)", res.Message)

	req := f.lastSQL(t)
	require.Equal(t, int64(len(req.Body)), contentLength, "known sizes give an exact Content-Length")
	require.Equal(t, "Bearer eyJhbGciOiJIUzI1NiJ9.access-1.sig", req.Auth)
	parts := parseMultipart(t, req.ContentType, bytes.NewReader(req.Body))
	require.Len(t, parts, 5)
	require.Equal(t, parsedPart{"sql", "", "", []byte(`INSERT INTO app.users (name, avatar, doc) VALUES ($1, FILE("avatar"), FILE("doc"))`)}, parts[0])
	require.Equal(t, parsedPart{"params", "", "", []byte(`["Alice"]`)}, parts[1])
	require.Equal(t, parsedPart{"namespace_id", "", "", []byte("app")}, parts[2])
	require.Equal(t, parsedPart{"file:avatar", "avatar.png", "image/png", avatar}, parts[3])
	require.Equal(t, parsedPart{"file:doc", "notes.txt", "application/octet-stream", []byte{}}, parts[4])

	require.True(t, len(progress) >= 3, "progress should be reported in steps")
	last := progress[len(progress)-1]
	require.Equal(t, sdk.UploadProgress{FileIndex: 1, Placeholder: "doc", FileName: "notes.txt", BytesSent: 0, TotalBytes: 0}, last)
	var lastAvatar sdk.UploadProgress
	prev := int64(-1)
	for _, p := range progress {
		if p.FileIndex == 0 {
			require.True(t, p.BytesSent > prev, "progress must grow")
			prev = p.BytesSent
			lastAvatar = p
		}
	}
	require.Equal(t, sdk.UploadProgress{FileIndex: 0, Placeholder: "avatar", FileName: "avatar.png", BytesSent: int64(len(avatar)), TotalBytes: int64(len(avatar))}, lastAvatar)
}

func TestFileUploadReplayAfterTokenExpired(t *testing.T) {
	f := newFake(t)
	c, _ := newClient(t, f, basic())
	_, err := c.Login(context.Background(), "root", "s3cret-pw")
	require.NoError(t, err)
	f.expire()
	content := strings.Repeat("data", 1000)
	r := strings.NewReader("skip:" + content)
	_, err = r.Seek(5, io.SeekStart) // the upload starts where the reader stands
	require.NoError(t, err)
	_, err = c.Query(context.Background(), `INSERT INTO t (f) VALUES (FILE("f"))`, sdk.File("f", "f.txt", "text/plain", r))
	require.NoError(t, err)
	require.EqualValues(t, 2, f.sqlCalls.Load())
	parts := parseMultipart(t, f.lastSQL(t).ContentType, bytes.NewReader(f.lastSQL(t).Body))
	require.Equal(t, content, string(parts[1].body), "the resent upload must carry the whole file again")
}

func TestFileUploadNotReplayable(t *testing.T) {
	f := newFake(t)
	var chunked bool
	base := f.sql
	f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) {
		chunked = r.ContentLength == -1
		base(w, r, body)
	}
	c, _ := newClient(t, f, basic())
	_, err := c.Login(context.Background(), "root", "s3cret-pw")
	require.NoError(t, err)

	// An unsized reader still uploads (chunked).
	_, err = c.Query(context.Background(), `INSERT INTO t (f) VALUES (FILE("f"))`, sdk.File("f", "f.bin", "", io.MultiReader(strings.NewReader("abc"))))
	require.NoError(t, err)
	require.True(t, chunked, "unknown size is sent without Content-Length")

	f.expire()
	_, err = c.Query(context.Background(), `INSERT INTO t (f) VALUES (FILE("f"))`, sdk.File("f", "f.bin", "", io.MultiReader(strings.NewReader("abc"))))
	require.ErrorIs(t, err, sdk.ErrBodyNotReplayable)
	require.ErrorIs(t, err, sdk.ErrTokenExpired)
	require.Contains(t, err.Error(), "io.Seeker")
}

func TestFileOptionValidation(t *testing.T) {
	c, _ := newClient(t, newFake(t), basic())
	_, err := c.Query(context.Background(), "INSERT", sdk.File("", "x", "", strings.NewReader("")))
	require.ErrorContains(t, err, "empty placeholder")
	_, err = c.Query(context.Background(), "INSERT", sdk.File("a", "x", "", nil))
	require.ErrorContains(t, err, "reader is nil")
	_, err = c.Query(context.Background(), "INSERT", sdk.File("a", "x", "", strings.NewReader("")), sdk.File("a", "y", "", strings.NewReader("")))
	require.ErrorContains(t, err, "given twice")
	_, err = c.Query(context.Background(), "SELECT 1", sdk.OnUploadProgress(func(sdk.UploadProgress) {}))
	require.ErrorContains(t, err, "without any File")
}

// patternReader generates n deterministic bytes without holding them.
type patternReader struct{ left int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	for i := range b {
		b[i] = byte(i * 7)
	}
	p.left -= int64(len(b))
	return len(b), nil
}

func TestFileUpload100MiBIsStreamed(t *testing.T) {
	const size = 100 << 20
	var received atomic.Int64
	var sum string
	var handlerErr error
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/api/auth/login" {
			writeJSON(w, 200, loginReply("tok", "ref"))
			return
		}
		mr, err := r.MultipartReader()
		if err != nil {
			handlerErr = err
			w.WriteHeader(400)
			return
		}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				handlerErr = err
				w.WriteHeader(400)
				return
			}
			if p.FormName() == "file:big" {
				hsh := sha256.New()
				n, err := io.Copy(hsh, p)
				received.Add(n)
				if err != nil {
					handlerErr = err
				}
				sum = hex.EncodeToString(hsh.Sum(nil))
			}
		}
		writeJSON(w, 200, `{"status":"success","results":[{"row_count":1,"message":"Inserted 1 row(s)","as_user":"root"}],"took":1}`)
	})
	c, _ := newClient(t, h, basic())
	_, err := c.Login(context.Background(), "root", "s3cret-pw")
	require.NoError(t, err)

	want := sha256.New()
	_, err = io.Copy(want, &patternReader{left: size})
	require.NoError(t, err)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = c.Query(context.Background(), `INSERT INTO t (f) VALUES (FILE("big"))`, sdk.File("big", "big.bin", "application/octet-stream", &patternReader{left: size}))
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.NoError(t, handlerErr)
	require.EqualValues(t, size, received.Load())
	require.Equal(t, hex.EncodeToString(want.Sum(nil)), sum, "content must arrive intact")
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB while uploading 100 MiB", allocated>>10)
	if allocated > 16<<20 {
		t.Fatalf("uploading 100 MiB allocated %d MiB: the body is being buffered", allocated>>20)
	}
}

func TestDownload(t *testing.T) {
	content := []byte("%PDF-1.7 hello")
	digest := sha256.Sum256(content)
	ref := sdk.FileRef{ID: "245730161436188672", Sub: "f0001", Name: "My Report_v2.PDF", Size: int64(len(content)), SHA256: hex.EncodeToString(digest[:])}
	var mu sync.Mutex
	var gotPath, gotAuth, gotQuery string
	f := newFake(t)
	f.other = func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotPath, gotAuth, gotQuery = r.URL.Path, r.Header.Get("Authorization"), r.URL.RawQuery
		mu.Unlock()
		switch r.URL.Path {
		case "/v1/files/app/docs/f0001/245730161436188672-my-report-v2.pdf":
			w.Header().Set("Content-Type", "application/pdf")
			w.Write(content)
		case "/v1/files/app/docs/f0001/245730161436188672-corrupt.pdf":
			w.Write([]byte("%PDF-1.7 hellx"))
		default:
			writeJSON(w, 404, `{"error":"File not found","code":"FILE_NOT_FOUND"}`)
		}
	}
	c, _ := newClient(t, f, basic())
	dl, err := c.Download(context.Background(), "app", "docs", ref, sdk.ForUser("alice"))
	require.NoError(t, err)
	got, err := io.ReadAll(dl)
	require.NoError(t, err)
	require.NoError(t, dl.Close())
	require.Equal(t, content, got)
	require.Equal(t, "application/pdf", dl.ContentType)
	mu.Lock()
	require.Equal(t, "/v1/files/app/docs/f0001/245730161436188672-my-report-v2.pdf", gotPath)
	require.Equal(t, "Bearer eyJhbGciOiJIUzI1NiJ9.access-1.sig", gotAuth)
	require.Equal(t, "user_id=alice", gotQuery)
	mu.Unlock()

	bad := ref
	bad.Name = "corrupt.pdf"
	dl, err = c.Download(context.Background(), "app", "docs", bad)
	require.NoError(t, err)
	_, err = io.ReadAll(dl)
	require.ErrorContains(t, err, "does not match its SHA-256")
	dl.Close()

	missing := ref
	missing.ID = "1"
	_, err = c.Download(context.Background(), "app", "docs", missing)
	require.ErrorIs(t, err, sdk.ErrNotFound)
	var se *sdk.ServerError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "FILE_NOT_FOUND", se.Code)

	_, err = c.Download(context.Background(), "app", "docs", sdk.FileRef{})
	require.ErrorContains(t, err, "no id or sub")
}

func TestHealth(t *testing.T) {
	f := newFake(t)
	f.other = func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/api/healthcheck":
			writeJSON(w, 200, `{"status":"healthy","version":"0.4.2-rc.3","api_version":"v1","build_date":"2025-01-01"}`)
		case "/v1/api/cluster/health":
			writeJSON(w, 200, `{"status":"healthy","version":"0.4.2-rc.3","build_date":"x","is_cluster_mode":false,"cluster_id":"","node_id":1,"is_leader":true,"total_groups":3,"groups_leading":3,"current_term":2,"last_applied":null,"millis_since_quorum_ack":5,"nodes":[{"node_id":1,"api_addr":"127.0.0.1:8080","is_self":true,"is_leader":true,"role":"leader","status":"active","replication_lag":null,"catchup_progress_pct":null,"hostname":"h","memory_usage_mb":12,"cpu_usage_percent":1.5,"uptime_seconds":9,"uptime_human":"9s"}]}`)
		}
	}
	c, _ := newClient(t, f)
	h, err := c.Health(context.Background())
	require.NoError(t, err)
	require.Equal(t, sdk.Health{Status: "healthy", Version: "0.4.2-rc.3", APIVersion: "v1", BuildDate: "2025-01-01"}, *h)
	ch, err := c.ClusterHealth(context.Background())
	require.NoError(t, err)
	require.True(t, ch.IsLeader && ch.NodeID == 1 && ch.LastApplied == nil && *ch.MillisSinceQuorumAck == 5)
	require.Len(t, ch.Nodes, 1)
	require.Equal(t, "leader", ch.Nodes[0].Role)
	require.True(t, ch.Nodes[0].ReplicationLag == nil && *ch.Nodes[0].CPUUsagePercent == 1.5)

	remote := newFake(t)
	remote.other = func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 403, `{"error":"Access denied. Health endpoint is localhost-only."}`)
	}
	c2, _ := newClient(t, remote)
	_, err = c2.Health(context.Background())
	require.ErrorIs(t, err, sdk.ErrPermissionDenied)
	require.Contains(t, err.Error(), "localhost-only")
}
