package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tugboat-io/tug/core/auth/user"
)

// TokenFile authenticates the tokens of a static token file in kube's format (the
// --token-auth-file of kube-apiserver), one per line:
//
//	token,user,uid,"group1,group2"
//
// The groups column is optional; lines starting with # and blank lines are skipped.
type TokenFile struct {
	entries []tokenEntry
}

type tokenEntry struct {
	hash [sha256.Size]byte
	info user.Info
}

// LoadTokenFile reads a token file from disk.
func LoadTokenFile(path string) (*TokenFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	tf, err := ParseTokenFile(f)
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	return tf, nil
}

// ParseTokenFile reads a token file. Errors name the line. A token that appears twice is an
// error rather than "last one wins", since silently dropping a user is worse than refusing to
// start.
func ParseTokenFile(r io.Reader) (*TokenFile, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	tf := &TokenFile{}
	seen := map[[sha256.Size]byte]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return tf, nil
		}
		if err != nil {
			return nil, err // a *csv.ParseError, which names the line
		}
		line, _ := cr.FieldPos(0)
		if len(rec) < 3 {
			return nil, fmt.Errorf("line %d: want at least 3 columns (token, user name, uid), found %d", line, len(rec))
		}
		if rec[0] == "" {
			return nil, fmt.Errorf("line %d: empty token", line)
		}
		if rec[1] == "" {
			return nil, fmt.Errorf("line %d: empty user name", line)
		}
		e := tokenEntry{hash: sha256.Sum256([]byte(rec[0])), info: user.Info{Name: rec[1], UID: rec[2]}}
		if prev, dup := seen[e.hash]; dup {
			return nil, fmt.Errorf("line %d: token already used on line %d", line, prev)
		}
		seen[e.hash] = line
		if len(rec) >= 4 && rec[3] != "" {
			for _, g := range strings.Split(rec[3], ",") {
				if g = strings.TrimSpace(g); g != "" {
					e.info.Groups = append(e.info.Groups, g)
				}
			}
		}
		tf.entries = append(tf.entries, e)
	}
}

// AuthenticateToken compares the token against every entry in constant time: hashing first
// makes the comparison length-independent, and the loop never stops early, so the time taken
// says nothing about which token, or how much of one, matched.
func (tf *TokenFile) AuthenticateToken(_ context.Context, token string) (*user.Info, bool, error) {
	h := sha256.Sum256([]byte(token))
	found := -1
	for i := range tf.entries {
		if subtle.ConstantTimeCompare(h[:], tf.entries[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		// Not an error: the token may belong to another authenticator in the union.
		return nil, false, nil
	}
	info := tf.entries[found].info
	info.Groups = append([]string(nil), info.Groups...)
	return &info, true, nil
}
