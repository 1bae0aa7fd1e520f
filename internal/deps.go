// Package internal holds the project's required dependencies until the
// packages that use them land. It is removed once they do.
package internal

import (
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/stretchr/testify/require"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/oauth2/clientcredentials"
	_ "golang.org/x/term"
	_ "golang.org/x/time/rate"
)
