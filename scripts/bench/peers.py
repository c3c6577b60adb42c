#!/usr/bin/python3
"""Python/PyTorch peers of `npm run bench`, written the way PyTorch users write them.

Run with Debian's /usr/bin/python3 (python3-torch 1.13 + python3-torchvision: the same LibTorch
as the addon). Two modes, both driven by JSON lines on stdin (one reply line per command on stdout):

  peers.py server   micro benchmarks: fused-EMA peers (per-parameter loop as in MoCo/solo-learn,
                    foreach mul+add as in lightly), `a += b` bandwidth, textbook NT-Xent,
                    torchvision per-image augmentation in a DataLoader.
  peers.py step     the SimCLR training step (its own process so its peak RSS is its own).

The orchestrator (scripts/bench/index.ts) alternates these with our code in the same run.
"""
import gzip
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T
from PIL import Image
from torch.utils.data import DataLoader, Dataset

FASHION_DIR = '/usr/share/datasets/fashion-mnist'


def reply(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def read_idx_images(path):
    """The IDX reader torchvision.datasets.FashionMNIST uses, in numpy: uint8 [N, H, W]."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    n, h, w = (int.from_bytes(data[i:i + 4], 'big') for i in (4, 8, 12))
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, h, w)


def fashion_mnist_train():
    for name in ('train-images-idx3-ubyte.gz', 'train-images-idx3-ubyte'):
        p = os.path.join(FASHION_DIR, name)
        if os.path.exists(p):
            return read_idx_images(p)
    raise FileNotFoundError(f'Fashion-MNIST not found in {FASHION_DIR}')


# ------------------------------------------------------------------------------------------------
# Augmentation: torchvision per-image transforms on PIL images (torchvision.datasets style).

def simclr_transform(channels, out_size=32):
    """The SimCLR CIFAR pipeline. For one channel, only the ops that change a grayscale image are
    kept (ColorJitter brightness+contrast; saturation/hue/RandomGrayscale are identities on 'L'
    images), which is also exactly what our batched augmenter does for C = 1."""
    if channels == 1:
        jitter = T.ColorJitter(brightness=0.4, contrast=0.4)
        extra = []
    else:
        jitter = T.ColorJitter(0.4, 0.4, 0.4, 0.1)
        extra = [T.RandomGrayscale(p=0.2)]
    mean, std = (0.5,) * channels, (0.5,) * channels
    return T.Compose([
        T.RandomResizedCrop(out_size, scale=(0.2, 1.0)),
        T.RandomHorizontalFlip(),
        T.RandomApply([jitter], p=0.8),
        *extra,
        T.ToTensor(),
        T.Normalize(mean, std),
    ])


class ImageArrayDataset(Dataset):
    """uint8 [N,H,W] or [N,H,W,3] array -> PIL image -> transform (views of each image)."""

    def __init__(self, images, transform, views):
        self.images = images
        self.mode = 'L' if images.ndim == 3 else 'RGB'
        self.transform = transform
        self.views = views

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img = Image.fromarray(self.images[i], mode=self.mode)
        if self.views == 1:
            return self.transform(img)
        return tuple(self.transform(img) for _ in range(self.views))


# ------------------------------------------------------------------------------------------------
# Model: torchvision's BasicBlock ResNet-18 with a width multiplier and the CIFAR stem.

class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, width=0.25, in_channels=3, stem='cifar'):
        super().__init__()
        widths = [round(b * width) for b in (64, 128, 256, 512)]
        if stem == 'cifar':
            self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_channels, widths[0], 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers, inplanes = [], widths[0]
        for s, w in enumerate(widths):
            layers.append(nn.Sequential(BasicBlock(inplanes, w, 1 if s == 0 else 2), BasicBlock(w, w, 1)))
            inplanes = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.feature_dim = widths[3]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def projector(in_dim, hidden, out):
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out))


def nt_xent(z1, z2, temperature=0.2):
    """Textbook NT-Xent (SimCLR): normalise, similarity matrix, mask the diagonal, cross entropy."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(float('-inf'))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, targets)


def ema_models(name):
    """(online params, ema params) for the EMA benchmarks: backbone + projector, as in MoCo."""
    if name == 'resnet18':
        backbone = torchvision.models.resnet18()
        backbone.fc = nn.Identity()
        model = nn.Sequential(backbone, projector(512, 512, 128))
    else:  # width-0.25 ResNet-18, CIFAR stem, 3 channels + the default projector 128→512→128
        model = nn.Sequential(ResNet18(0.25, 3, 'cifar'), projector(128, 512, 128))
    online = list(model.parameters())
    ema = [p.detach().clone() for p in online]
    return online, ema


def threads_info():
    return {'torchThreads': torch.get_num_threads(), 'torch': torch.__version__, 'torchvision': torchvision.__version__,
            'numpy': np.__version__, 'python': sys.version.split()[0],
            'parallel': torch.__config__.parallel_info().splitlines()[-1].strip()}


# ------------------------------------------------------------------------------------------------

def server(threads):
    torch.set_num_threads(threads)
    state = {}
    reply({'ready': True, **threads_info()})
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req['cmd']
        if cmd == 'quit':
            break
        try:
            out = handle(state, req)
        except Exception as e:  # report, keep serving
            out = {'error': f'{type(e).__name__}: {e}'}
        reply(out)


def timed(fn, iters):
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters


def handle(state, req):
    cmd = req['cmd']
    if cmd == 'ema_setup':
        online, ema = ema_models(req['model'])
        state['ema'] = (online, ema)
        return {'shapes': [list(p.shape) for p in online], 'numel': sum(p.numel() for p in online)}
    if cmd == 'ema_time':
        online, ema = state['ema']
        m = 0.99
        if req['impl'] == 'loop':
            def fn():  # MoCo / solo-learn momentum update
                with torch.no_grad():
                    for pe, po in zip(ema, online):
                        pe.mul_(m).add_(po, alpha=1 - m)
        else:
            def fn():  # lightly: foreach mul + add
                with torch.no_grad():
                    torch._foreach_mul_(ema, m)
                    torch._foreach_add_(ema, online, alpha=1 - m)
        return {'seconds': timed(fn, req['iters'])}
    if cmd == 'bw_setup':
        n = req['numel']
        state['bw'] = (torch.rand(n), torch.rand(n), np.random.rand(n).astype(np.float32), np.random.rand(n).astype(np.float32))
        return {'numel': n}
    if cmd == 'bw_time':
        a, b, na, nb = state['bw']
        if req['impl'] == 'torch':
            def fn():
                a.add_(b)
        else:
            def fn():
                np.add(na, nb, out=na)
        return {'seconds': timed(fn, req['iters'])}
    if cmd == 'ntxent_setup':
        g = torch.Generator().manual_seed(0)
        n, d = req['n'], req['d']
        state['nt'] = (torch.randn(n, d, generator=g, requires_grad=True), torch.randn(n, d, generator=g, requires_grad=True))
        return {'n': n, 'd': d}
    if cmd == 'ntxent_time':
        z1, z2 = state['nt']

        def fn():
            z1.grad = None
            z2.grad = None
            loss = nt_xent(z1, z2, 0.2)
            loss.backward()
            return loss.item()
        return {'seconds': timed(fn, req['iters'])}
    if cmd == 'aug_setup':
        if req['kind'] == 'fmnist':
            images, channels = fashion_mnist_train()[: req['images']], 1
        else:
            rng = np.random.default_rng(0)
            images, channels = rng.integers(0, 256, size=(req['images'], 32, 32, 3), dtype=np.uint8), 3
        ds = ImageArrayDataset(images, simclr_transform(channels, 32), views=1)
        loader = DataLoader(ds, batch_size=256, shuffle=True, num_workers=req['workers'], persistent_workers=req['workers'] > 0)
        state['aug'] = (loader, len(ds))
        for _ in loader:  # start the workers and warm up
            pass
        return {'images': len(ds), 'workers': req['workers']}
    if cmd == 'aug_time':
        loader, n = state['aug']
        t0 = time.perf_counter()
        for _ in loader:
            pass
        return {'seconds': time.perf_counter() - t0, 'images': n}
    if cmd == 'aug_close':
        state.pop('aug', None)
        return {}
    raise ValueError(f'unknown command {cmd}')


def lr_at(step, total, warmup, base, final=0.0):
    if step < warmup:
        return base * (step + 1) / warmup
    t = min(step - warmup, total - warmup) / max(1, total - warmup)
    return final + (base - final) * 0.5 * (1 + math.cos(math.pi * t))


def quiesce(workers, timeout=5.0):
    """Waits until the DataLoader worker processes stop using CPU (two quiet 50 ms polls)."""
    def ticks():
        total = 0
        for w in workers:
            try:
                with open(f'/proc/{w.pid}/stat') as f:
                    fields = f.read().rsplit(')', 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, ValueError, IndexError):
                pass
        return total
    deadline, quiet, last = time.perf_counter() + timeout, 0, ticks()
    while quiet < 2 and time.perf_counter() < deadline:
        time.sleep(0.05)
        cur = ticks()
        quiet = quiet + 1 if cur == last else 0
        last = cur


def step_peer(threads, batch, workers, out_size):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images = fashion_mnist_train()
    ds = ImageArrayDataset(images, simclr_transform(1, out_size), views=2)
    loader = DataLoader(ds, batch_size=batch, shuffle=True, drop_last=True, num_workers=workers,
                        persistent_workers=workers > 0)
    backbone = ResNet18(0.25, 1, 'cifar')
    head = projector(backbone.feature_dim, 512, 128)
    model = nn.Sequential(backbone, head)
    decay, no_decay = [], []
    for p in model.parameters():  # solo-learn: no weight decay on biases and norm parameters
        (no_decay if p.ndim <= 1 else decay).append(p)
    base_lr, total = 0.3, 1000
    opt = torch.optim.SGD([{'params': decay, 'weight_decay': 1e-4}, {'params': no_decay, 'weight_decay': 0.0}],
                          lr=base_lr, momentum=0.9)
    model.train()
    step = 0
    reply({'ready': True, **threads_info(), 'workers': workers, 'numParameters': sum(p.numel() for p in model.parameters())})
    for line in sys.stdin:
        req = json.loads(line)
        if req['cmd'] == 'quit':
            break
        # Each block starts a fresh pass over the loader: nothing was prefetched while we were idle.
        t0 = time.perf_counter()
        it = iter(loader)
        losses = []
        for _ in range(req['steps']):
            x1, x2 = next(it)
            z1 = model(x1)
            z2 = model(x2)
            loss = nt_xent(z1, z2, 0.2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            for g in opt.param_groups:
                g['lr'] = lr_at(step, total, 0, base_lr)
            opt.step()
            losses.append(loss.item())
            step += 1
        seconds = time.perf_counter() - t0
        # Outside the timed region: let the workers finish the batches they prefetch after the
        # block, so they do not steal CPU from our side's next block.
        quiesce(getattr(it, '_workers', []))
        reply({'seconds': seconds, 'steps': req['steps'], 'loss': losses[-1]})
    main_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    it = None
    del loader  # joins the persistent workers so their peak shows up in RUSAGE_CHILDREN
    import gc
    gc.collect()
    time.sleep(0.5)
    reply({'maxRssKB': main_rss, 'workerMaxRssKB': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss})


if __name__ == '__main__':
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=['server', 'step'])
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--batch', type=int, default=256)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--out-size', type=int, default=32)
    a = ap.parse_args()
    if a.mode == 'server':
        server(a.threads)
    else:
        step_peer(a.threads, a.batch, a.workers, a.out_size)
