#!/usr/bin/python3
"""Writes test/fixtures/losses/*.json: fixed random float64 inputs, and the loss value and the
gradient w.r.t. each input from PyTorch autograd on textbook implementations (written here
independently of native/core: per-query loops, explicit exp/log, F.cross_entropy).

Run with Debian's python3-torch (1.13): /usr/bin/python3 scripts/make-loss-fixtures.py
Inputs are listed in the order lossValueAndGrad takes them; absent optional inputs are null, and
so are the gradients of index/mask inputs.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'losses')
TAUS = [0.2, 0.05]


def normalize(x):
    return x / x.norm(dim=1, keepdim=True)


# --- textbook losses -------------------------------------------------------------------------

def nt_xent_pair(a, b, tau):
    # SimCLR: similarity matrix of [a; b], own entry removed, positive at i±N.
    n = a.shape[0]
    z = normalize(torch.cat([a, b]))
    sim = z @ z.t() / tau
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float('-inf'))
    labels = torch.cat([torch.arange(n) + n, torch.arange(n)])
    return F.cross_entropy(sim, labels)


def momentum_nt_xent(z1, z2, k1, k2, tau):
    return 0.5 * (nt_xent_pair(z2, k1.detach(), tau) + nt_xent_pair(z1, k2.detach(), tau))


def nt_xent_general(anchors, candidates, pos, self_idx, tau):
    an, cn = normalize(anchors), normalize(candidates)
    terms = []
    for i in range(an.shape[0]):
        s = [torch.dot(an[i], cn[j]) / tau for j in range(cn.shape[0]) if j != int(self_idx[i])]
        p = torch.dot(an[i], cn[int(pos[i])]) / tau
        terms.append(-torch.log(torch.exp(p) / sum(torch.exp(x) for x in s)))
    return torch.stack(terms).mean()


def info_nce(q, k, keys, valid, sample_index, query_index, in_batch, tau):
    qn, kn = normalize(q), normalize(k)
    negn = normalize(keys) if keys is not None else None
    terms = []
    for i in range(qn.shape[0]):
        pos = torch.exp(torch.dot(qn[i], kn[i]) / tau)
        den = pos
        if in_batch:
            for j in range(kn.shape[0]):
                if j != i and (query_index is None or int(query_index[j]) != int(query_index[i])):
                    den = den + torch.exp(torch.dot(qn[i], kn[j]) / tau)
        if negn is not None:
            for m in range(negn.shape[0]):
                if valid is not None and not bool(valid[m]):
                    continue
                if sample_index is not None and query_index is not None and int(sample_index[m]) == int(query_index[i]):
                    continue
                den = den + torch.exp(torch.dot(qn[i], negn[m]) / tau)
        terms.append(-torch.log(pos / den))
    return torch.stack(terms).mean()


def byol(p, k):
    return (2 - 2 * F.cosine_similarity(p, k, dim=1)).mean()


def negative_cosine(p, z):
    # SimSiam's D(p, z) with the stop-gradient on z.
    return -F.cosine_similarity(p, z.detach(), dim=1).mean()


def dino(students, teachers, center, tau_s, tau_t):
    # DINO's loss as its paper's pseudocode: every (teacher global view, other student view) pair.
    targets = [F.softmax((t.detach() - center.detach()) / tau_t, dim=-1) for t in teachers]
    total, terms = 0.0, 0
    for i, q in enumerate(targets):
        for j, s in enumerate(students):
            if j == i:
                continue
            total = total + torch.sum(-q * F.log_softmax(s / tau_s, dim=-1), dim=-1).mean()
            terms += 1
    return total / terms


# --- fixture writing -------------------------------------------------------------------------

def enc(t):
    if t is None:
        return None
    dtype = {torch.float64: 'float64', torch.int64: 'int64', torch.bool: 'bool'}[t.dtype]
    data = t.flatten().tolist()
    if t.dtype == torch.bool:
        data = [1 if x else 0 for x in data]
    return {'dtype': dtype, 'shape': list(t.shape), 'data': data}


def case(name, loss_name, fn, inputs, options):
    """inputs: list of (argName, tensor or None); float tensors get gradients."""
    leaves = [(n, t.clone().requires_grad_(True) if t is not None and t.is_floating_point() else t) for n, t in inputs]
    value = fn(*[t for _, t in leaves])
    diff = [t for _, t in leaves if t is not None and t.requires_grad]
    grads = torch.autograd.grad(value, diff, allow_unused=True)
    gi = iter(grads)
    out_grads = []
    for _, t in leaves:
        if t is not None and t.requires_grad:
            g = next(gi)
            out_grads.append(enc(torch.zeros_like(t) if g is None else g))
        else:
            out_grads.append(None)
    assert math.isfinite(value.item())
    return {
        'name': name,
        'loss': loss_name,
        'options': options,
        'inputNames': [n for n, _ in inputs],
        'inputs': [enc(t) for _, t in inputs],
        'value': value.item(),
        'grads': out_grads,
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(20240601)
    rnd = lambda *s: torch.randn(*s, generator=g)
    n, d, kq = 4, 8, 12
    files = {}

    files['ntxent_pair'] = [
        case(f'ntXentPair tau={tau}', 'ntXentPair', lambda a, b, tau=tau: nt_xent_pair(a, b, tau),
             [('a', rnd(n, d)), ('b', rnd(n, d))], {'temperature': tau})
        for tau in TAUS
    ]

    files['momentum_ntxent'] = [
        case(f'momentumNtXent tau={tau}', 'momentumNtXent',
             lambda z1, z2, k1, k2, tau=tau: momentum_nt_xent(z1, z2, k1, k2, tau),
             [('z1', rnd(n, d)), ('z2', rnd(n, d)), ('k1', rnd(n, d)), ('k2', rnd(n, d))], {'temperature': tau})
        for tau in TAUS
    ]

    # Explicit indices: 5 anchors against 8 candidates (e.g. gathered from two ranks).
    pos = torch.tensor([3, 0, 7, 5, 1])
    self_idx = torch.tensor([0, -1, 2, 4, 6])
    files['ntxent'] = [
        case(f'ntXent indexed tau={tau}', 'ntXent',
             lambda a, c, p, s, tau=tau: nt_xent_general(a, c, p, s, tau),
             [('anchors', rnd(5, d)), ('candidates', rnd(8, d)), ('positiveIndex', pos), ('selfIndex', self_idx)],
             {'temperature': tau})
        for tau in TAUS
    ]

    # Queue of 12 with 3 empty slots and samples that repeat the queries' indices.
    valid = torch.tensor([1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1], dtype=torch.bool)
    sample_index = torch.tensor([10, 11, 2, -1, 13, 0, 14, 15, -1, 2, -1, 16])
    query_index = torch.tensor([0, 1, 2, 2])  # two views of sample 2 in one batch: in-batch masked too
    infonce = []
    for tau in TAUS:
        for in_batch in (False, True):
            infonce.append(case(
                f'infoNce queue+mask in_batch={in_batch} tau={tau}', 'infoNce',
                lambda q, k, keys, v, si, qi, tau=tau, ib=in_batch: info_nce(q, k, keys, v, si, qi, ib, tau),
                [('q', rnd(n, d)), ('kPos', rnd(n, d)), ('keys', rnd(kq, d)), ('valid', valid),
                 ('sampleIndex', sample_index), ('queryIndex', query_index)],
                {'temperature': tau, 'inBatchNegatives': in_batch}))
        infonce.append(case(
            f'infoNce in-batch only tau={tau}', 'infoNce',
            lambda q, k, keys, v, si, qi, tau=tau: info_nce(q, k, None, None, None, None, True, tau),
            [('q', rnd(n, d)), ('kPos', rnd(n, d)), ('keys', None), ('valid', None), ('sampleIndex', None), ('queryIndex', None)],
            {'temperature': tau, 'inBatchNegatives': True}))
    files['infonce'] = infonce

    files['byol'] = [case('byolLoss', 'byolLoss', byol, [('p', rnd(n, d)), ('k', rnd(n, d))], {})]

    # New cases draw after the older ones, so older fixtures keep their inputs.
    files['negative_cosine'] = [case('negativeCosine', 'negativeCosine', negative_cosine, [('p', rnd(n, d)), ('z', rnd(n, d))], {})]

    kp = 10
    dino_cases = []
    for local, (tau_s, tau_t) in [(2, (0.1, 0.04)), (0, (0.1, 0.07)), (2, (0.2, 0.05))]:
        names = ['student1', 'student2', 'student3', 'student4', 'teacher1', 'teacher2', 'center']
        tensors = [rnd(n, kp), rnd(n, kp)] + [rnd(n, kp) if k < local else None for k in range(2)] + [rnd(n, kp), rnd(n, kp), 0.3 * rnd(kp)]

        def fn(s1, s2, s3, s4, t1, t2, c, tau_s=tau_s, tau_t=tau_t):
            return dino([x for x in (s1, s2, s3, s4) if x is not None], [t1, t2], c, tau_s, tau_t)

        dino_cases.append(case(f'dinoLoss local={local} tau_s={tau_s} tau_t={tau_t}', 'dinoLoss', fn, list(zip(names, tensors)),
                               {'studentTemperature': tau_s, 'teacherTemperature': tau_t}))
    files['dino'] = dino_cases

    for name, cases in files.items():
        with open(os.path.join(OUT, name + '.json'), 'w') as f:
            json.dump({'generator': 'scripts/make-loss-fixtures.py', 'torch': torch.__version__, 'cases': cases}, f)
            f.write('\n')
        print(name, len(cases), 'cases')


if __name__ == '__main__':
    main()
