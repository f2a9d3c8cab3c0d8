// Command etcd is the etcd server at the version kube-apiserver v1.37.2 was built against.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
