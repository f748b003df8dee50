// Package ociimage writes and reads image archives: the tar files `tug image import` takes
// to bring images to a node that cannot reach a registry.
//
// [Write] produces an OCI image layout (oci-layout, index.json, blobs/sha256/…) holding one
// image, named the way both the OCI spec and containerd read names, so the same file feeds
// `ctr images import`, containerd's client Import and tug's own image store. Tests use it to
// build the images they run, because no registry is reachable from them.
//
// [Read] opens either kind of archive found in the field — an OCI image layout (with nested
// indexes, as multi-platform images have) or a `docker save` archive (manifest.json with
// <id>.json configs and layer.tar files) — and yields, per image manifest, its names, digests,
// config and layers. Layers open as streams of their uncompressed tar whether they were stored
// plain or gzip-compressed, and every blob is checked against its digest as it is read.
//
// Read works on an io.ReaderAt rather than a stream because archives put their index
// anywhere: docker save often writes manifest.json last, after the layers it names. Callers
// that receive a stream spool it to a file first (the image store does).
package ociimage
