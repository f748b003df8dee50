package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tugboat-io/tug/core/kubelet/containerd"
	"github.com/tugboat-io/tug/core/kubelet/imagestore"
	"github.com/tugboat-io/tug/core/kubelet/wasm"
	"github.com/tugboat-io/tug/internal/ociimage"
)

func newImageCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Load and list the images a node runs (no registry needed)",
	}
	imp := &cobra.Command{
		Use:   "import FILE.tar…",
		Short: "Load OCI image archives or docker-save archives into this node's image store",
		Long: `Load images into the image store of the node whose data dir is --data-dir, from OCI
image-layout archives or "docker save" archives. The node runs them without a registry;
pods name them as usual (image: example.com/app:v1, with imagePullPolicy IfNotPresent
or Never). A running node sees imported images at once.`,
		Example: `  tug image import hello-wasm.tar
  tug image import --data-dir /tmp/n2 app.tar`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, file := range args {
				names, err := a.importImage(cmd.Context(), file)
				if err != nil {
					return fmt.Errorf("import %s: %w", file, err)
				}
				for _, n := range names {
					fmt.Fprintf(a.stdout, "imported %s\n", n)
				}
			}
			return nil
		},
	}
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the images in this node's image store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := imagestore.Open(filepath.Join(a.settings.String("data-dir"), "kubelet", "images"))
			if err != nil {
				return err
			}
			imgs, err := st.List()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPLATFORM\tDIGEST\tSIZE")
			for _, img := range imgs {
				fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%d\n", img.Name, img.Platform.OS, img.Platform.Architecture, img.Digest, img.Size)
			}
			return tw.Flush()
		},
	}
	pack := &cobra.Command{
		Use:   "pack FILE [-- ARGS…]",
		Short: "Pack one program (a WASI module or a static binary) as an OCI image archive",
		Long: `Write an OCI image archive holding one file, /<its name>, as the image's entrypoint (and
ARGS as its default args), ready for "tug image import". A WebAssembly module (it starts
with \0asm) becomes a wasip1/wasm image that runs on the in-process wasm runtime; anything
else a linux image for containerd (a static binary: the image has nothing else in it).`,
		Example: `  GOOS=wasip1 GOARCH=wasm go build -o hello.wasm ./examples/hello-http
  tug image pack --name example.com/hello:wasm -o hello.tar hello.wasm -- serve`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, out := cmd.Flag("name").Value.String(), cmd.Flag("output").Value.String()
			if name == "" || out == "" {
				return errors.New("--name and --output are required")
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			path := "/" + filepath.Base(args[0])
			img := ociimage.Image{Name: name, OS: "linux", Architecture: goruntime.GOARCH, Entrypoint: []string{path}, Cmd: args[1:],
				Files: []ociimage.File{{Path: path, Mode: 0o755, Data: data}}}
			if bytes.HasPrefix(data, []byte("\x00asm")) {
				img.OS, img.Architecture = "wasip1", "wasm"
			}
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			if err := ociimage.Write(f, img); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "packed %s (%s/%s) into %s\n", name, img.OS, img.Architecture, out)
			return nil
		},
	}
	pack.Flags().String("name", "", "the image's name, e.g. example.com/hello:v1")
	pack.Flags().StringP("output", "o", "", "archive to write")
	for _, c := range []*cobra.Command{imp, ls} {
		addDataDirFlag(c.Flags())
	}
	imp.Flags().String("containerd-address", containerd.DefaultAddress, "containerd's socket (Linux images go to containerd when it answers)")
	imp.Flags().String("containerd-namespace", containerd.DefaultNamespace, "containerd namespace the node's images live in")
	cmd.AddCommand(imp, ls, pack)
	return cmd
}

// importImage loads an archive where the node will run it: WebAssembly images into the node's
// own store (the in-process wasm runtime reads them there), Linux images into containerd when
// it answers, else into the node's store too (where a pod using one reports that this node
// cannot run it).
func (a *app) importImage(ctx context.Context, file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	archived, err := ociimage.Read(f, st.Size())
	if err != nil {
		return nil, err
	}
	allWasm := true
	for _, img := range archived {
		if !wasm.IsWasm(img.Config.OS, img.Config.Architecture) {
			allWasm = false
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	addr := a.settings.String("containerd-address")
	if !allWasm && containerd.Available(ctx, addr) {
		return containerd.Import(ctx, addr, a.settings.String("containerd-namespace"), f)
	}
	store, err := imagestore.Open(filepath.Join(a.settings.String("data-dir"), "kubelet", "images"))
	if err != nil {
		return nil, err
	}
	return store.Import(ctx, f)
}
