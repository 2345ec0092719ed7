import { Effect } from "effect"
import * as fs from "node:fs"
import * as F from "./figures"
import { rasterize } from "./rasterize"
const figs = [
  F.intervalBarChart({ name: "bars", title: "Held-one-out R² by dataset", rows: ["alpaca","bailbench","math","wildchat"].flatMap((c,i)=>[{category:c,group:"standard",value:0.3+i*0.1,lo:0.2+i*0.1,hi:0.4+i*0.1},{category:c,group:"mean-adjusted",value:0.5+i*0.05,lo:0.42+i*0.05,hi:0.58+i*0.05}]), categoryTitle:"held-out dataset", groupTitle:"metric", valueTitle:"R² on held-out tasks" }),
  F.heatmap({ name: "heat", title: "Probe cosine similarity", cells: ["alpaca","bailbench","math","wildchat"].flatMap((r,i)=>["alpaca","bailbench","math","wildchat"].map((c,j)=>({row:r,column:c,value: i===j?1: Math.cos(i*3+j*2)}))), rowTitle:"probe trained on", columnTitle:"probe trained on", valueTitle:"cosine" }),
  F.doseResponse({ name: "dose", title: "Steering dose-response", points: ["probe","control","mean difference"].flatMap((d,k)=>[-4,-2,0,2,4].map(c=>{const p=Math.min(0.95,Math.max(0.05,0.5+c*0.08*(1-k*0.45)));return {direction:d,coefficient:c,p,lo:Math.max(0,p-0.08),hi:Math.min(1,p+0.08)}})) }),
  F.lineWithBand({ name: "seed", title: "Seed sensitivity", points: [1,2,3,4,5].flatMap(k=>[{series:"measured",x:k,y:0.5+0.08*k,lo:0.45+0.08*k,hi:0.55+0.08*k},{series:"Spearman-Brown",x:k,y:k*0.55/(1+(k-1)*0.55)}]), xTitle:"samples averaged (k)", yTitle:"cross-seed Pearson r", seriesTitle:"estimate" }),
  F.scatterWithFit({ name: "scatter", title: "Template slope vs correlation", points: Array.from({length:12},(_,i)=>({x:0.2+i*0.06,y:0.3+i*0.05+Math.sin(i)*0.05,label:`tpl_${i}`,yLo:0.25+i*0.05,yHi:0.35+i*0.05+Math.sin(i)*0.05})), xTitle:"Pearson r with reference template", yTitle:"OLS slope on reference", pointsLabel:"templates", identityLine:true }),
  F.categoryBarChart({ name: "cats", title: "Normalized ratings by category", rows: ["coding","creative writing","harmful request","math","advice"].flatMap((c,i)=>["alpaca","wildchat","bailbench"].map((d,j)=>({category:c,dataset:d,value:0.3+0.1*i-0.05*j,lo:0.25+0.1*i-0.05*j,hi:0.35+0.1*i-0.05*j}))), categoryTitle:"task category", datasetTitle:"dataset", valueTitle:"mean normalized rating (0–1)", valueDomain:[0,1] }),
]
for (const f of figs.slice(5)) {
  const r = await Effect.runPromise(rasterize(f))
  fs.writeFileSync(`/tmp/rsc/${f.name}.png`, r.png); fs.writeFileSync(`/tmp/rsc/${f.name}.svg`, r.svg)
  console.log(f.name, r.width, r.height, r.png.length)
}
