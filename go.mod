module hangar

go 1.26.0

require golang.org/x/sys v0.49.0

require go.etcd.io/bbolt v1.5.0

require github.com/BurntSushi/toml v1.6.0

require github.com/julienschmidt/httprouter v1.3.0

require golang.org/x/crypto v0.58.0
