package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	for _, c := range []*cobra.Command{imp, ls} {
		addDataDirFlag(c.Flags())
	}
	imp.Flags().String("containerd-address", containerd.DefaultAddress, "containerd's socket (Linux images go to containerd when it answers)")
	imp.Flags().String("containerd-namespace", containerd.DefaultNamespace, "containerd namespace the node's images live in")
	cmd.AddCommand(imp, ls)
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
