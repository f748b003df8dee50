// Package lockfile gives one process exclusive use of a data directory.
//
// The lock is an flock(2) on DIR/tug.lock, which also holds the owner's pid for the error
// message a second process sees. The kernel drops the lock when its owner exits for any reason,
// kill -9 included, so a stale file never blocks a restart; the file itself is left in place
// (removing it would let two processes lock different inodes under one name).
package lockfile
