// A controller-runtime peer of podlogreader, written the way a Go team would write it, for the
// benchmark only: per opted-in Deployment, one Role whose resourceNames are the Deployment's pods
// (found through their ReplicaSets' controller ownerReferences). Pods and ReplicaSets are cached
// by the opt-in label; four workers.
package main

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"os"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

const (
	optInLabel = "podlogreader-affiliate"
	optInValue = "enable"
	rolePrefix = "podlogreader-"
)

var scheme = runtime.NewScheme()

func init() {
	_ = clientgoscheme.AddToScheme(scheme)
}

func main() {
	var namespace, metricsAddr, probeAddr string
	var workers int
	flag.StringVar(&namespace, "namespace", "", "Only watch this namespace (default: all).")
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "The address the metrics endpoint binds to; 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to; 0 disables it.")
	flag.IntVar(&workers, "workers", 4, "Concurrent reconciles.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")

	optedIn := labels.SelectorFromSet(labels.Set{optInLabel: optInValue})
	cacheOpts := cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Pod{}:        {Label: optedIn},
		&appsv1.ReplicaSet{}: {Label: optedIn},
	}}
	if namespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{namespace: {}}
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Cache:                  cacheOpts,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
	})
	if err != nil {
		log.Error(err, "Unable to create the manager")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", func(_ *http.Request) error { return nil }); err != nil {
		log.Error(err, "Unable to add the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return errors.New("caches not synced")
		}
		return nil
	}); err != nil {
		log.Error(err, "Unable to add the ready check")
		os.Exit(1)
	}
	r := &RoleReconciler{Client: mgr.GetClient()}
	if err := r.SetupWithManager(mgr, workers); err != nil {
		log.Error(err, "Unable to create the controller")
		os.Exit(1)
	}
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "The manager stopped")
		os.Exit(1)
	}
}

// RoleReconciler keeps a Role per opted-in Deployment.
type RoleReconciler struct {
	client.Client
}

func optedInDeployment(d *appsv1.Deployment) bool {
	return d.Spec.Template.Labels[optInLabel] == optInValue
}

// ownerUIDKey indexes pods and ReplicaSets by the UID of their controller (kubebuilder book style).
const ownerUIDKey = ".metadata.controllerUID"

func indexByController(o client.Object) []string {
	if ref := metav1.GetControllerOfNoCopy(o); ref != nil {
		return []string{string(ref.UID)}
	}
	return nil
}

func (r *RoleReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	ctx := context.Background()
	for _, obj := range []client.Object{&corev1.Pod{}, &appsv1.ReplicaSet{}} {
		if err := mgr.GetFieldIndexer().IndexField(ctx, obj, ownerUIDKey, indexByController); err != nil {
			return err
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("podlogreader-peer").
		For(&appsv1.Deployment{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return optedInDeployment(o.(*appsv1.Deployment))
		}))).
		Owns(&rbacv1.Role{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.deploymentOfPod)).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// deploymentOfPod follows the pod's controller ownerReference to its ReplicaSet and that
// ReplicaSet's to its Deployment.
func (r *RoleReconciler) deploymentOfPod(ctx context.Context, o client.Object) []reconcile.Request {
	rsRef := metav1.GetControllerOfNoCopy(o)
	if rsRef == nil || rsRef.Kind != "ReplicaSet" {
		return nil
	}
	var rs appsv1.ReplicaSet
	if err := r.Get(ctx, types.NamespacedName{Namespace: o.GetNamespace(), Name: rsRef.Name}, &rs); err != nil || rs.UID != rsRef.UID {
		return nil
	}
	depRef := metav1.GetControllerOfNoCopy(&rs)
	if depRef == nil || depRef.Kind != "Deployment" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: depRef.Name}}}
}

func (r *RoleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var dep appsv1.Deployment
	if err := r.Get(ctx, req.NamespacedName, &dep); err != nil {
		// Deleted: garbage collection removes the Role through its ownerReference.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !optedInDeployment(&dep) {
		return ctrl.Result{}, nil
	}
	var sets appsv1.ReplicaSetList
	if err := r.List(ctx, &sets, client.InNamespace(req.Namespace), client.MatchingFields{ownerUIDKey: string(dep.UID)}); err != nil {
		return ctrl.Result{}, err
	}
	var names []string
	for i := range sets.Items {
		var pods corev1.PodList
		if err := r.List(ctx, &pods, client.InNamespace(req.Namespace), client.MatchingFields{ownerUIDKey: string(sets.Items[i].UID)}); err != nil {
			return ctrl.Result{}, err
		}
		for j := range pods.Items {
			if pods.Items[j].DeletionTimestamp == nil {
				names = append(names, pods.Items[j].Name)
			}
		}
	}
	slices.Sort(names)

	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: rolePrefix + dep.Name, Namespace: dep.Namespace}}
	_, err := controllerutil.CreateOrUpdate(ctx, r.Client, role, func() error {
		role.Rules = nil
		// No pods: no rule that names pods (an empty resourceNames would grant them all).
		if len(names) > 0 {
			role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}, Verbs: []string{"get", "list", "watch"}, ResourceNames: names})
		}
		role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get"}, ResourceNames: []string{dep.Name}})
		return controllerutil.SetControllerReference(&dep, role, r.Scheme())
	})
	if apierrors.IsConflict(err) {
		return ctrl.Result{Requeue: true}, nil
	}
	return ctrl.Result{}, err
}
