// Package target picks the KalamDB server an example talks to: the one
// named by KALAMDB_URL (with KALAMDB_USER, default root, and
// KALAMDB_PASSWORD), or else an embedded emulator on a loopback port.
package target

import (
	"fmt"
	"os"

	"github.com/kalamstack/kalam-go/kalamtest/emulator"
)

// Server is where an example connects.
type Server struct {
	URL, User, Password string
	stop                func()
}

// Close stops the embedded emulator, if one was started.
func (s *Server) Close() {
	if s.stop != nil {
		s.stop()
	}
}

// Get returns the configured server, starting an embedded emulator whose
// root password is embeddedPassword when KALAMDB_URL is unset.
func Get(embeddedPassword string) (*Server, error) {
	s := &Server{URL: os.Getenv("KALAMDB_URL"), User: os.Getenv("KALAMDB_USER"), Password: os.Getenv("KALAMDB_PASSWORD")}
	if s.User == "" {
		s.User = "root"
	}
	if s.URL != "" {
		fmt.Println("using KalamDB at", s.URL)
		return s, nil
	}
	l, err := emulator.Listen("127.0.0.1:0", emulator.Options{RootPassword: embeddedPassword})
	if err != nil {
		return nil, err
	}
	s.URL, s.User, s.Password, s.stop = l.URL, "root", embeddedPassword, func() { l.Close() }
	fmt.Println("started an embedded KalamDB emulator at", s.URL)
	return s, nil
}
