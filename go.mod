module hangar

go 1.26.0

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/julienschmidt/httprouter v1.3.0
	github.com/yeqown/go-qrcode/v2 v2.2.5
	go.etcd.io/bbolt v1.5.0
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
)

require github.com/yeqown/reedsolomon v1.0.0 // indirect
