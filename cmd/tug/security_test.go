package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tugboat-io/tug/core/apiserver/apiservertest"
	"github.com/tugboat-io/tug/core/auth/pki"
)

func etcdClient(t *testing.T) *clientv3.Client {
	return apiservertest.StartEtcd(t, slog.New(slog.DiscardHandler))
}

func samePKI(t *testing.T, what string, a, b *pki.Bundle) {
	t.Helper()
	if !a.CA.Cert.Equal(b.CA.Cert) {
		t.Errorf("%s: the servers have different cluster CAs", what)
	}
	if !a.KubeletServingCA.Cert.Equal(b.KubeletServingCA.Cert) {
		t.Errorf("%s: the servers have different kubelet serving CAs, so one could not reach the node agents the other's CA signed for", what)
	}
	if !a.SAKey.Equal(b.SAKey) {
		t.Errorf("%s: the servers have different service account keys", what)
	}
}

// Servers on one etcd share the cluster CA, the kubelet serving CA and the service account
// key: the first publishes them, the others adopt them.
func TestSharedPKI(t *testing.T) {
	cli := etcdClient(t)
	ctx := context.Background()
	opts := pki.Options{}
	a, err := sharedPKI(ctx, cli, filepath.Join(t.TempDir(), "pki"), opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sharedPKI(ctx, cli, filepath.Join(t.TempDir(), "pki"), opts)
	if err != nil {
		t.Fatal(err)
	}
	samePKI(t, "a new cluster", a, b)
}

// A cluster whose record in etcd predates the kubelet serving CA gets one: the first server
// to start adds its own, and the next adopts it rather than making another.
func TestSharedPKIAddsTheKubeletServingCA(t *testing.T) {
	cli := etcdClient(t)
	ctx := context.Background()
	old, err := pki.LoadOrCreate(filepath.Join(t.TempDir(), "pki"), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sa, err := pki.EncodeKey(old.SAKey)
	if err != nil {
		t.Fatal(err)
	}
	record, err := json.Marshal(map[string][]byte{"caCert": old.CA.CertPEM, "caKey": old.CA.KeyPEM, "saKey": sa})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, pkiKey, string(record)); err != nil {
		t.Fatal(err)
	}

	// The first server upgraded still holds its own files, kubelet serving CA included.
	dirA := filepath.Join(t.TempDir(), "pki")
	if _, err := pki.LoadOrCreate(dirA, pki.Options{}); err != nil {
		t.Fatal(err)
	}
	a, err := sharedPKI(ctx, cli, dirA, pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !a.CA.Cert.Equal(old.CA.Cert) {
		t.Error("the cluster CA in etcd was not adopted")
	}
	b, err := sharedPKI(ctx, cli, filepath.Join(t.TempDir(), "pki"), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	samePKI(t, "after the upgrade", a, b)
	get, err := cli.Get(ctx, pkiKey)
	if err != nil {
		t.Fatal(err)
	}
	var k sharedKeys
	if err := json.Unmarshal(get.Kvs[0].Value, &k); err != nil {
		t.Fatal(err)
	}
	if string(k.KubeletServingCACert) != string(a.KubeletServingCA.CertPEM) || string(k.CACert) != string(old.CA.CertPEM) {
		t.Error("etcd does not hold the cluster CA and the adopted kubelet serving CA")
	}
	onDisk, err := os.ReadFile(filepath.Join(dirA, pki.KubeletServingCACertFile))
	if err != nil || string(onDisk) != string(a.KubeletServingCA.CertPEM) {
		t.Errorf("the first server's kubelet serving CA file: %v", err)
	}
}
