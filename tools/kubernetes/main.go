// One multi-call binary for the local cluster: it runs the component its name says
// (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl),
// so the five components and kubectl share one build and one copy of their dependencies.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

func command(name string) *cobra.Command {
	switch name {
	case "kube-apiserver":
		return apiserver.NewAPIServerCommand()
	case "kube-controller-manager":
		return controllermanager.NewControllerManagerCommand()
	case "kube-scheduler":
		return scheduler.NewSchedulerCommand()
	case "kubelet":
		return kubelet.NewKubeletCommand(context.Background())
	case "kube-proxy":
		return proxy.NewProxyCommand()
	case "kubectl":
		return cmd.NewDefaultKubectlCommand()
	}
	return nil
}

func main() {
	name := filepath.Base(os.Args[0])
	root := command(name)
	if root == nil {
		fmt.Fprintf(os.Stderr, "%s: run me as kube-apiserver, kube-controller-manager, "+
			"kube-scheduler, kubelet, kube-proxy or kubectl (a link of that name)\n", name)
		os.Exit(2)
	}
	os.Exit(cli.Run(root))
}
