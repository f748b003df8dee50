// Package imagestore is a node's own image store, used when the node has no containerd: it
// holds the images `tug image import` brings in, unpacked for the in-process wasm runtime,
// which runs a WASI module straight from an image's root filesystem.
//
// An import reads an image archive (an OCI image layout or a docker save archive, through
// internal/ociimage), keeps its blobs content-addressed and unpacks each image's layers into
// a directory of its own, then records the image's names. On disk, under the store's
// directory:
//
//	blobs/sha256/<hex>   manifests, configs and layers, as archived
//	rootfs/sha256/<hex>  one unpacked root filesystem per image config (the image ID)
//	images.json          names → manifest digests, and what the agent needs of each image
//	tmp/                 spooled archives and half-unpacked trees; emptied by Open
//
// A root filesystem is unpacked under tmp/ and renamed into place, and images.json is
// replaced by renaming a complete new copy over it, after everything it names is in place.
// So a crash at any point leaves either the old set of images or the new one visible, never
// an image whose files are half there; what a crash strands is removed by the next Open.
// Unpacked files are not synced one by one, so that guarantee covers a crash of the agent,
// not a loss of power in the middle of an import.
//
// Names are kept in their full form ("docker.io/library/hello:latest") and looked up the
// way Kubernetes and containerd read an image reference: "hello" means that same name.
// Importing an image under a name another image had moves the name; the image that lost
// its last name stays, nameless, until it is removed by digest — as `docker load` leaves a
// <none> image — because pods started from it may still be running.
//
// A store directory belongs to one process at a time; nothing here locks it against a
// second. Within the process, a Store is safe for use by many goroutines.
package imagestore
