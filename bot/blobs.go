package bot

import (
	"os"
	"path/filepath"

	"tocsin/bot/intake"
	"tocsin/internal/atomicfile"
	"tocsin/parsers"
)

// Raw messages and attachments are kept content-addressed under DATA.

// keepRaw keeps the message's bytes as DATA/raw/ab/SUM.eml: a spooled
// message's file is synced already and is moved there.
func (b *Bot) keepRaw(sum string, in intake.Raw) (string, error) {
	if in.File == "" {
		return b.keepBlob(b.rawDir(), sum, ".eml", in.Bytes)
	}
	path := filepath.Join(b.rawDir(), sum[:2], sum+".eml")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	return path, atomicfile.Rename(in.File, path)
}

// blobSink stores attachments content-addressed as DATA/blobs/ab/SUM
// while the parser decodes them, so an attachment of any size is never
// held in memory.
type blobSink struct{ dir string }

func (s blobSink) Begin(name, mediaType string) (parsers.AttachmentWriter, error) {
	tmp := filepath.Join(s.dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(tmp, "part-*")
	if err != nil {
		return nil, err
	}
	return &blobWriter{f: f, dir: s.dir}, nil
}

type blobWriter struct {
	f   *os.File
	dir string
}

func (w *blobWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

// Finish moves the attachment to its place, or drops it when the same
// bytes are there already; the data and the rename are synced, so a filed
// incident never points at a missing attachment.
func (w *blobWriter) Finish(sum string, size int64) error {
	defer os.Remove(w.f.Name()) // no-op after the rename
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return err
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	path := filepath.Join(w.dir, sum[:2], sum)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return atomicfile.Rename(w.f.Name(), path)
}

// keepBlob stores data content-addressed as DIR/ab/SUM+ext unless it is
// there already, and returns the path.
func (b *Bot) keepBlob(dir, sum, ext string, data []byte) (string, error) {
	path := filepath.Join(dir, sum[:2], sum+ext)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	return path, atomicfile.Write(path, data, 0o600)
}
