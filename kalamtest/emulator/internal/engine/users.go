package engine

import (
	"errors"
	"fmt"
	"time"
)

func (u *userInfo) public() User {
	out := User{ID: u.ID, Role: u.Role, Email: u.Email, CreatedAt: time.UnixMilli(u.CreatedAt).UTC(),
		UpdatedAt: time.UnixMilli(u.UpdatedAt).UTC(), HasPassword: u.Hash != "", Deleted: u.DeletedAt != nil}
	if u.Email != nil {
		em := *u.Email
		out.Email = &em
	}
	return out
}

// CheckPassword returns the user when name and password match; a deleted
// user or one without a password never matches.
func (e *Engine) CheckPassword(name, password string) (User, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.cat.Users[name]
	if u == nil || u.DeletedAt != nil || !u.checkPassword(password) {
		return User{}, false
	}
	return u.public(), true
}

// LookupUser returns the user with this id (deleted users included, with
// Deleted set).
func (e *Engine) LookupUser(id string) (User, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.cat.Users[id]
	if u == nil {
		return User{}, false
	}
	return u.public(), true
}

// RootHasPassword reports whether root can log in yet.
func (e *Engine) RootHasPassword() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.cat.Users["root"]
	return u != nil && u.Hash != ""
}

// SetupServer sets root's password and creates a dba user (http-api §4.6).
func (e *Engine) SetupServer(user, password, rootPassword string, email *string) (User, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return User{}, errors.New("engine is closed")
	}
	name := user
	if name == "" || password == "" || rootPassword == "" {
		return User{}, errors.New("setup needs a user name, a password and a root password")
	}
	if _, exists := e.cat.Users[name]; exists {
		return User{}, fmt.Errorf("user '%s' already exists", name)
	}
	now := e.opts.Now().UnixMilli()
	u := &userInfo{ID: name, Role: RoleDBA, AuthType: "Password", CreatedAt: now, UpdatedAt: now}
	if email != nil {
		em := *email
		u.Email = &em
	}
	u.setPassword(password)
	root := e.cat.Users["root"]
	if err := e.conn.Exec("BEGIN"); err != nil {
		return User{}, fmt.Errorf("setup: %w", err)
	}
	oldSalt, oldHash := root.Salt, root.Hash
	root.setPassword(rootPassword)
	root.UpdatedAt = now
	e.cat.Users[name] = u
	if err := e.saveCatalog(); err != nil {
		root.Salt, root.Hash = oldSalt, oldHash
		delete(e.cat.Users, name)
		e.abortTx()
		return User{}, fmt.Errorf("setup: %w", err)
	}
	if err := e.commit(); err != nil {
		e.abortTx()
		return User{}, fmt.Errorf("setup: %w", err)
	}
	return u.public(), nil
}
