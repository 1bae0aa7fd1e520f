package genesys

// Version is the gcbulk version sent in the User-Agent header. Release
// builds set it with -ldflags "-X github.com/gcbulk/gcbulk/genesys.Version=…".
var Version = "dev"
