package main

import (
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tugboat-io/tug/core/kubelet/imagestore"
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
			st, err := imagestore.Open(filepath.Join(a.settings.String("data-dir"), "kubelet", "images"))
			if err != nil {
				return err
			}
			for _, file := range args {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				names, err := st.Import(cmd.Context(), f)
				f.Close()
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
	cmd.AddCommand(imp, ls)
	return cmd
}
