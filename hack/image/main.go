// Command image builds netprofile's manager image without a container daemon (make image): the static
// manager for each platform on a base built here from scratch, written as an OCI image layout tar with the
// multi-platform index (see hack/image/imagebuild). Run it from the repository root:
//
//	go run ./hack/image -version v1.2.3 [-out dist/netprofile-image.tar] [-platforms linux/amd64,linux/arm64]
//
// It prints the index digest and writes it to <out>.digest, and the SPDX SBOM to <out>.spdx.json. The
// creation time is $SOURCE_DATE_EPOCH, else the commit time (git log -1 --format=%ct): the same commit
// gives the same digest.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/netprofile/netprofile/hack/image/imagebuild"
)

func main() {
	out := flag.String("out", "dist/netprofile-image.tar", "the image archive to write; the digest goes to <out>.digest, the SBOM to <out>.spdx.json")
	platforms := flag.String("platforms", "linux/amd64,linux/arm64", "comma-separated linux/<arch> platforms; the first is also the archive's Docker manifest.json image")
	version := flag.String("version", "", "version to stamp, label and tag the image with, such as v1.2.3")
	revision := flag.String("revision", "", "commit to stamp and label the image with (default: git rev-parse HEAD)")
	source := flag.String("source", "https://github.com/netprofile/netprofile", "source repository URL for the org.opencontainers.image.source label")
	repository := flag.String("repository", "ghcr.io/netprofile/netprofile", "image name the archive tags <repository>:<version>")
	flag.Parse()
	if err := run(*out, *platforms, *version, *revision, *source, *repository); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(out, platforms, version, revision, source, repository string) error {
	if _, err := os.Stat(imagebuild.ManagerPackage); err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	ps, err := imagebuild.ParsePlatforms(platforms)
	if err != nil {
		return err
	}
	if revision == "" {
		if revision, err = git("rev-parse", "HEAD"); err != nil {
			return fmt.Errorf("no -revision and no commit: %w", err)
		}
	}
	created, err := sourceDate()
	if err != nil {
		return err
	}
	m := imagebuild.Metadata{Version: version, Revision: revision, Source: source, Repository: repository, Created: created}
	tmp, err := os.MkdirTemp("", "netprofile-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bins, err := imagebuild.BuildManagers(".", ps, m, tmp)
	if err != nil {
		return err
	}
	res, err := imagebuild.Assemble(".", bins, m, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "image: %s (%s:%s for %s), %s, %s\n", res.Archive, repository, version, platforms, res.DigestFile, res.SBOM)
	fmt.Println(res.Digest)
	return nil
}

// sourceDate is $SOURCE_DATE_EPOCH (reproducible-builds.org), else the commit time.
func sourceDate() (time.Time, error) {
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		var err error
		if epoch, err = git("log", "-1", "--format=%ct"); err != nil {
			return time.Time{}, fmt.Errorf("no SOURCE_DATE_EPOCH and no commit time: %w", err)
		}
	}
	s, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || s <= 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is no Unix time", epoch)
	}
	return time.Unix(s, 0).UTC(), nil
}

func git(args ...string) (string, error) {
	b, err := exec.Command("git", args...).Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(b)), nil
}
